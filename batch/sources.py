"""Batch sources: every input becomes a FrameRequest, or a 'read' dead letter.

* images: a folder (every file below it) or a glob, local or gs:// (Beam's MatchFiles);
  a file that is not an image is not skipped: it becomes a 'decode' dead letter;
* TFRecords written by `firewatch data ingest` (encoded bytes + id + source path);
* a BigQuery query returning a `uri` column (and optionally camera_id, frame_id, captured_at).
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems

from firewatch.contract import (
    CAMERA_ID_PATTERN,
    ContractError,
    FrameRequest,
    MessageLimits,
    check_uri,
    describe_error,
    parse_rfc3339,
)
from firewatch.transforms import DEAD, dead_letter

MODE = "batch"
FALLBACK_CAMERA = "batch"


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


class ReadImageFile(beam.DoFn):
    """A matched file path -> FrameRequest with its bytes (or a 'read' dead letter)."""

    def __init__(self, limits: MessageLimits, camera_id: str | None) -> None:
        self._limits = limits
        self._camera = camera_id

    def setup(self) -> None:
        from firewatch.gcp import prepare_beam_offline_auth

        prepare_beam_offline_auth()

    def process(self, metadata: Any):
        path = metadata.path
        camera = camera_for(path, self._camera)
        if metadata.size_in_bytes > self._limits.max_object_bytes:
            yield dead_letter(
                stage="read",
                reason=f"{path} is {metadata.size_in_bytes} bytes, above {self._limits.max_object_bytes}",
                error_type="object_too_large",
                mode=MODE,
                source_uri=path,
                camera_id=camera,
            )
            return
        try:
            with FileSystems.open(path) as handle:
                data = handle.read()
        except Exception as exc:  # noqa: BLE001
            yield dead_letter(
                stage="read",
                reason=f"could not read {path}: {exc}"[:2000],
                error_type=type(exc).__name__,
                mode=MODE,
                source_uri=path,
                camera_id=camera,
            )
            return
        yield FrameRequest(camera_id=camera, frame_id=path, image_bytes=data, uri=path)


class ParseRecord(beam.DoFn):
    """A serialized tf.Example from the ingest job -> FrameRequest (or a 'read' dead letter)."""

    def __init__(self, camera_id: str | None) -> None:
        self._camera = camera_id

    def process(self, serialized: bytes):
        from model.records import parse_example

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
        from firewatch.gcp import bigquery_client

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
            pattern = self._spec.split(":", 1)[1] if self._spec.lower().startswith("tfrecord:") else self._spec
            parsed = (
                pbegin
                | "ReadTFRecords" >> beam.io.ReadFromTFRecord(pattern)
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
                | "ReadFiles" >> beam.ParDo(ReadImageFile(self._limits, self._camera)).with_outputs(DEAD, main="ok")
            )
        return {"requests": parsed.ok, "dead_letters": parsed[DEAD]}
