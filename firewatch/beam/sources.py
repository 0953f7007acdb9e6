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


class ParseRecord(beam.DoFn):
    """A serialized tf.Example from the ingest job -> FrameRequest (or a 'read' dead letter)."""

    def __init__(self, camera_id: str | None) -> None:
        self._camera = camera_id

    def process(self, serialized: bytes):
        from firewatch.core.records import parse_example

        try:
            record = {key: tensor.numpy() for key, tensor in parse_example(serialized).items()}
            data = record["image/encoded"]
            source = _text(record["source_path"]) or None
            frame_id = _text(record["id"]) or None
        except Exception as exc:  # noqa: BLE001 - a damaged record is a dead letter, not a crash
            yield dead_letter(
                stage="read",
                reason=f"not a Firewatch TFRecord example: {exc}"[:2000],
                error_type=type(exc).__name__,
                mode=MODE,
                payload=serialized,
            )
            return
        camera = self._camera or (camera_for(source, None) if source else FALLBACK_CAMERA)
        yield FrameRequest(camera_id=camera, frame_id=frame_id, image_bytes=data, uri=source)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


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
        else:
            parsed = (
                pbegin
                | "Match" >> fileio.MatchFiles(image_pattern(self._spec))
                | "Spread" >> beam.Reshuffle()
                | "ToRequests" >> beam.Map(lambda meta, camera: file_request(meta.path, camera), self._camera)
            )
            return {"requests": parsed, "dead_letters": pbegin | "NoReadFailures" >> beam.Create([])}
        return {"requests": parsed.ok, "dead_letters": parsed[DEAD]}
