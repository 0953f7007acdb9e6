"""Sources: every input becomes a FrameRequest, or a dead letter; both jobs read through here.

* streaming: Pub/Sub messages (`ParsePubsubMessages` validates them against the contract);
* images: a folder (every file below it) or a glob, local or gs:// (Beam's MatchFiles); the
  files are read by the scoring's fetch step (`FetchObjects`), like gs:// frames in streaming,
  and a file that is not an image is not skipped: it becomes a 'decode' dead letter;
* TFRecords written by `firewatch data ingest` (encoded bytes + id + source path);
* a BigQuery query returning a `uri` column (and optionally camera_id, frame_id, captured_at).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

import apache_beam as beam
from apache_beam.io import fileio

from firewatch.beam.dead_letters import DEAD, dead_letter
from firewatch.core.contract import (
    CAMERA_ID_PATTERN,
    ContractError,
    FrameRequest,
    MessageLimits,
    check_uri,
    describe_error,
    first_line,
    parse_message,
    parse_rfc3339,
)

MODE = "batch"
FALLBACK_CAMERA = "batch"


def as_utc_datetime(value: Any) -> datetime | None:
    """A Pub/Sub publish time as an aware UTC datetime, whatever the runner hands over
    (a Beam Timestamp, a protobuf Timestamp, or a datetime subclass)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if hasattr(value, "to_utc_datetime"):
        return value.to_utc_datetime(has_tz=True)
    if hasattr(value, "ToDatetime"):
        return value.ToDatetime(tzinfo=UTC)
    return datetime.fromtimestamp(float(value), UTC)


class ParsePubsubMessages(beam.DoFn):
    """PubsubMessage -> FrameRequest, or a 'validate' dead letter."""

    def __init__(self, limits: MessageLimits, mode: str = "streaming") -> None:
        self._limits = limits
        self._mode = mode

    def process(self, message: Any):
        data, attributes = message.data or b"", dict(message.attributes or {})
        message_id = getattr(message, "message_id", None)
        try:
            publish_time = as_utc_datetime(getattr(message, "publish_time", None))
            yield parse_message(data, attributes, self._limits, message_id=message_id, publish_time=publish_time)
        except Exception as exc:  # noqa: BLE001 - no message may stop the stream
            rule, reason = describe_error(exc)
            yield dead_letter(
                stage="validate",
                reason=reason,
                error_type=rule,
                mode=self._mode,
                payload=data,
                attributes=attributes,
                message_id=message_id,
            )


def source_kind(spec: str) -> str:
    """'bigquery', 'tfrecord' or 'images' for an --input value."""
    lowered = spec.lower()
    if lowered.startswith(("bq:", "bigquery:")):
        return "bigquery"
    if (
        lowered.startswith("tfrecord:")
        or re.search(r"\.tfrecords?(\.gz)?\*?$", lowered)
        or lowered.endswith(".tfrecord*")
    ):
        return "tfrecord"
    return "images"


def tfrecord_pattern(spec: str) -> str:
    """The file pattern of a TFRecord --input (`tfrecord:PATTERN` or a *.tfrecord glob)."""
    return spec.split(":", 1)[1] if spec.lower().startswith("tfrecord:") else spec


def image_pattern(spec: str) -> str:
    """A folder becomes a recursive pattern; a glob or file stays as it is."""
    if any(ch in spec for ch in "*?["):
        return spec
    if spec.startswith("gs://"):
        return spec.rstrip("/") + "/**" if spec.endswith("/") or "." not in PurePosixPath(spec).name else spec
    from pathlib import Path

    return str(Path(spec) / "**") if Path(spec).is_dir() else spec


def camera_for(path: str, explicit: str | None) -> str:
    if explicit:
        return explicit
    parent = PurePosixPath(path.split("://", 1)[-1]).parent.name
    return parent if parent and CAMERA_ID_PATTERN.match(parent) else FALLBACK_CAMERA


def file_request(path: str, camera_id: str | None) -> FrameRequest:
    """A matched image file -> the FrameRequest the scoring's fetch step reads (as gs:// frames)."""
    return FrameRequest(camera_id=camera_for(path, camera_id), frame_id=path, uri=path)


# The features an ingest record must have (firewatch.core.records.feature_spec without a default).
REQUIRED_BYTES = ("image/encoded", "label", "id")
REQUIRED_INT64 = ("label_index",)


class NotAnExample(ValueError):
    """The record is not a tf.Example with the ingest's features."""


def request_from_record(serialized: bytes, camera_id: str | None) -> FrameRequest:
    """A record written by `firewatch data ingest` -> FrameRequest; NotAnExample when it is not one.

    The one reading of an ingest record, for both batch engines: a protobuf parse (no TensorFlow op
    per record), the required features each holding one value."""
    from tensorflow.core.example import example_pb2

    try:
        example = example_pb2.Example.FromString(serialized)
    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError, or a non-bytes element
        raise NotAnExample(f"not a serialized tf.Example ({first_line(exc)})") from None
    features = example.features
    values = {name: _single(features, name, "bytes_list") for name in REQUIRED_BYTES}
    for name in REQUIRED_INT64:
        _single(features, name, "int64_list")
    source = features.feature["source_path"].bytes_list.value if "source_path" in features.feature else []
    source_path = source[0].decode(errors="replace") if source else None
    frame_id = values["id"].decode(errors="replace") or None
    camera = camera_id or (camera_for(source_path, None) if source_path else FALLBACK_CAMERA)
    return FrameRequest(
        camera_id=camera, frame_id=frame_id, image_bytes=values["image/encoded"], uri=source_path or None
    )


def _single(features: Any, name: str, kind: str) -> Any:
    if name not in features.feature:
        raise NotAnExample(f"feature {name!r} is missing")
    values = getattr(features.feature[name], kind).value
    if len(values) != 1:
        raise NotAnExample(f"feature {name!r} should hold one {kind} value, has {len(values)}")
    return values[0]


def record_dead_letter(serialized: bytes, exc: BaseException) -> dict[str, Any]:
    """The 'read' dead letter of a record that is not a Firewatch example (its bytes kept)."""
    return dead_letter(
        stage="read",
        reason=f"not a Firewatch TFRecord example: {exc}"[:2000],
        error_type=type(exc).__name__,
        mode=MODE,
        payload=serialized,
    )


class ParseRecord(beam.DoFn):
    """A serialized tf.Example from the ingest job -> FrameRequest (or a 'read' dead letter)."""

    def __init__(self, camera_id: str | None) -> None:
        self._camera = camera_id

    def process(self, serialized: bytes):
        try:
            request = request_from_record(serialized, self._camera)
        except Exception as exc:  # noqa: BLE001 - a damaged record is a dead letter, not a crash
            yield record_dead_letter(serialized, exc)
            return
        yield request


class QueryUris(beam.DoFn):
    """Runs a BigQuery query (via the configured client) and emits one FrameRequest per row."""

    def __init__(self, project: str, limits: MessageLimits, camera_id: str | None) -> None:
        self._project, self._limits, self._camera = project, limits, camera_id

    def process(self, sql: str):
        from firewatch.cloud.clients import bigquery_client

        for row in bigquery_client(self._project).query(sql).result():
            values = dict(row)
            uri = values.get("uri")
            camera = values.get("camera_id") or self._camera or FALLBACK_CAMERA
            try:
                if not uri:
                    raise ContractError("missing_uri", "the query row has no uri column value")
                check_uri(uri, self._limits)
                captured = values.get("captured_at")
                if isinstance(captured, str):
                    captured = parse_rfc3339(captured)
                yield FrameRequest(
                    camera_id=camera, frame_id=values.get("frame_id") or uri, uri=uri, captured_at=captured
                )
            except (ContractError, ValueError) as exc:
                rule, reason = describe_error(exc)
                yield dead_letter(
                    stage="validate",
                    reason=reason,
                    error_type=rule,
                    mode=MODE,
                    source_uri=uri,
                    camera_id=camera,
                )


class ReadFrames(beam.PTransform):
    """--input spec -> {"requests": FrameRequests, "dead_letters": read failures}."""

    def __init__(self, spec: str, limits: MessageLimits, camera_id: str | None, project: str | None) -> None:
        super().__init__()
        self._spec, self._limits, self._camera, self._project = spec, limits, camera_id, project

    def expand(self, pbegin):
        kind = source_kind(self._spec)
        if kind == "tfrecord":
            parsed = (
                pbegin
                | "ReadTFRecords" >> beam.io.ReadFromTFRecord(tfrecord_pattern(self._spec))
                | "ParseRecords" >> beam.ParDo(ParseRecord(self._camera)).with_outputs(DEAD, main="ok")
            )
        elif kind == "bigquery":
            sql = self._spec.split(":", 1)[1].strip()
            parsed = (
                pbegin
                | "Query" >> beam.Create([sql])
                | "QueryUris"
                >> beam.ParDo(QueryUris(self._project or "", self._limits, self._camera)).with_outputs(DEAD, main="ok")
            )
            # One DoFn call emits every row of the query: without a fusion break the whole job would
            # run on the worker that made that call. Reshuffle spreads the requests over the workers.
            spread = parsed.ok | "SpreadQueryRows" >> beam.Reshuffle()
            return {"requests": spread, "dead_letters": parsed[DEAD]}
        else:
            parsed = (
                pbegin
                | "Match" >> fileio.MatchFiles(image_pattern(self._spec))
                | "Spread" >> beam.Reshuffle()
                | "ToRequests" >> beam.Map(lambda meta, camera: file_request(meta.path, camera), self._camera)
            )
            return {"requests": parsed, "dead_letters": pbegin | "NoReadFailures" >> beam.Create([])}
        return {"requests": parsed.ok, "dead_letters": parsed[DEAD]}
