"""Sinks, one home for both jobs: BigQuery tables, JSONL / Parquet files, and Pub/Sub topics.

* `WriteToBigQueryRows(table)`: insertAll through the official client (`RowWriter`), the
  emulator and real BigQuery alike; their insertIds come from the row itself
  (`firewatch.core.rows.*_row_id`). With `buffer_seconds` > 0 (Dataflow streaming) rows are
  batched across bundles: keyed by a shard of their row id and grouped (`GroupIntoBatches`, at
  most `batch_size` rows or `buffer_seconds` of waiting), which is also a fusion break, so the
  writes are their own stage and a BigQuery outage holds rows in the runner's state instead of
  stalling scoring. With 0 (the local runner, batch) rows are buffered per bundle.
* `WriteRowsToFiles(output, name, format)`: `OUTPUT/<name>-SSSSS-of-NNNNN.jsonl|parquet`, with
  an Arrow schema derived from the same BigQuery schema files, so both hold the same columns.
* `WriteResults(destinations)`: the results of a job (typed predictions, dead letters, alert
  events, camera-health events, explanation rows, shadow rows) to their tables or files, and in
  streaming the alert topic (alert and camera-health events) and the dead-letter topic. Predictions become rows
  here, and only here. A row a table cannot take becomes a dead letter (stage `sink`, BigQuery's
  reason); in streaming, transient failures are retried until BigQuery is back, and a message is
  acknowledged once its row is written (`firewatch.beam.written`; on the local runner
  `firewatch.localrun.pubsub` listens). A
  dead letter the dead-letters table cannot take, and a refused access (`BigQueryAccessError`),
  fail the bundle: the runner retries it and nothing is acknowledged, instead of a log line for a
  frame that is gone.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.transforms.window import GlobalWindows
from apache_beam.typehints import KV

from firewatch.beam.dead_letters import dead_letter_message
from firewatch.beam.written import rows_written
from firewatch.cloud.bigquery_rows import ROW_ID_KEY, BigQueryWriteError, Rejected, RowWriter, check_table_id
from firewatch.core.alerts import alert_message_parts
from firewatch.core.health import health_message_parts
from firewatch.core.rows import (
    alert_row_id,
    camera_health_row_id,
    dead_letter_row,
    dead_letter_row_id,
    explanation_row_id,
    prediction_row,
    prediction_row_id,
)
from firewatch.core.shadow import shadow_row_id
from infra.resources import schema_for_table

_LOG = logging.getLogger(__name__)
ROW_IDS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "predictions": prediction_row_id,
    "dead_letters": dead_letter_row_id,
    "alerts": alert_row_id,
    "explanations": explanation_row_id,
    "camera_health": camera_health_row_id,
    "shadow_predictions": shadow_row_id,
}


def arrow_schema(table: str):
    """The Arrow schema matching a BigQuery schema file (TIMESTAMPs kept as RFC 3339 text)."""
    import pyarrow as pa

    scalar = {
        "STRING": pa.string(),
        "TIMESTAMP": pa.string(),
        "FLOAT": pa.float64(),
        "INTEGER": pa.int64(),
        "BOOLEAN": pa.bool_(),
    }

    def field_type(spec: dict[str, Any]):
        if spec["type"] == "RECORD":
            kind = pa.struct([pa.field(f["name"], field_type(f)) for f in spec["fields"]])
        else:
            kind = scalar[spec["type"]]
        return pa.list_(kind) if spec.get("mode") == "REPEATED" else kind

    return pa.schema([pa.field(f["name"], field_type(f)) for f in schema_for_table(table)])


def alert_message(event: dict[str, Any]) -> PubsubMessage:
    """An alert event as the alert topic's message (`firewatch.core.alerts.alert_message_parts`)."""
    return PubsubMessage(*alert_message_parts(event))


def health_message(row: dict[str, Any]) -> PubsubMessage:
    """A camera-health event as the alert topic's message (`firewatch.core.health.health_message_parts`)."""
    return PubsubMessage(*health_message_parts(row))


def rejected_dead_letter(rejected: Rejected, table: str) -> dict[str, Any]:
    """The dead letter of a row a table cannot take: BigQuery's reason, and the row as payload."""
    row = rejected.row
    return dead_letter_row(
        stage="sink",
        reason=f"{table}: {rejected.reason}",
        error_type=rejected.error_type,
        mode=str(row.get("mode") or "streaming"),
        payload=json.dumps(row, sort_keys=True, default=str).encode(),
        message_id=row.get("message_id"),
        camera_id=row.get("camera_id"),
        source_uri=row.get("source_uri"),
    )


@functools.cache
def shared_writer(table: str, validate: bool, max_attempts: int | None) -> RowWriter:
    """One writer (client, cached schema) per table and process: runners may set a DoFn up per
    bundle, and a client plus a schema request per bundle is slow and fails during an outage."""
    from firewatch.cloud import clients as gcp

    gcp.prepare_beam_offline_auth()
    return RowWriter(table, validate=validate, max_attempts=max_attempts)


WRITE_SHARDS = 32  # keys of the cross-bundle batches of one table: how many writes run in parallel


def write_shard(row: Mapping[str, Any], shards: int = WRITE_SHARDS) -> int:
    """The shard of a row (a stable hash of its insertId, or of the row): rows spread evenly."""
    text = str(row.get(ROW_ID_KEY) or json.dumps(row, sort_keys=True, default=str))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") % shards


class _WriteRowsFn(beam.DoFn):
    """Buffers rows per bundle and inserts them; outputs the dead letters of rows that cannot be
    written. With `ack`, listeners are told which rows were written (`firewatch.beam.written`:
    on the local runner, their Pub/Sub messages are acknowledged)."""

    def __init__(
        self,
        table: str,
        batch_size: int,
        validate: bool,
        row_id: Callable[[Mapping[str, Any]], str] | None = None,
        *,
        retry_forever: bool = False,
        ack: bool = False,
        fail_on_reject: bool = False,
    ) -> None:
        self.table = check_table_id(table)
        self.row_id = row_id
        self.fail_on_reject = fail_on_reject
        self.batch_size = batch_size
        self.validate = validate
        self.retry_forever, self.ack = retry_forever, ack
        self.writer: RowWriter | None = None
        self.buffer: list[Mapping[str, Any]] = []
        self.rows_written = beam.metrics.Metrics.counter("firewatch.bigquery", "rows_written")
        self.rows_rejected = beam.metrics.Metrics.counter("firewatch.bigquery", "rows_rejected")

    def setup(self) -> None:
        self.writer = shared_writer(self.table, self.validate, None if self.retry_forever else 6)

    def start_bundle(self) -> None:
        self.buffer = []

    def process(self, row: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
        self.buffer.append({**row, ROW_ID_KEY: self.row_id(row)} if self.row_id else row)
        if len(self.buffer) >= self.batch_size:
            yield from self._flush()

    def finish_bundle(self) -> Iterable[Any]:
        for dead in self._flush():
            yield GlobalWindows.windowed_value(dead)

    def _flush(self) -> list[dict[str, Any]]:
        if not self.buffer:
            return []
        rows, self.buffer = self.buffer, []
        return self._write(rows)

    def _write(self, rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Insert rows; the dead letters of the rows the table cannot take (or raise, see above)."""
        assert self.writer is not None, "setup() not called"
        rejected = self.writer.write_or_reject(rows, batch_size=self.batch_size)
        self.rows_written.inc(len(rows) - len(rejected))
        if rejected:
            self.rows_rejected.inc(len(rejected))
            _LOG.error("%d row(s) could not be written to %s: %s", len(rejected), self.table, rejected[0].reason)
            if self.fail_on_reject:  # the last stop of a frame: failing the bundle keeps its message
                raise BigQueryWriteError(
                    f"{len(rejected)} row(s) could not be written to {self.table}, which has no dead "
                    f"letter of its own; the bundle is retried: {rejected[0].reason}"
                )
        if self.ack:
            refused = {r.row.get("message_id") for r in rejected}
            rows_written([row for row in rows if row.get("message_id") not in refused])
        return [rejected_dead_letter(r, self.table) for r in rejected]


class _WriteBatchesFn(_WriteRowsFn):
    """(shard, rows) batches from `GroupIntoBatches` -> one write each (rows carry their ids)."""

    def process(self, element: tuple[int, Iterable[Mapping[str, Any]]]) -> Iterable[dict[str, Any]]:
        _, rows = element
        yield from self._write(list(rows))


class WriteToBigQueryRows(beam.PTransform):
    """Write dict rows to `project.dataset.table` with insertAll (emulator or real BigQuery).

    Rows are buffered per bundle and sent `batch_size` at a time. `row_id(row)` (or `_row_id` in a
    row) becomes its insertId, so a retried bundle or a redelivered message is de-duplicated by
    BigQuery. Transient failures are retried (for ever with `retry_forever`, as a streaming job
    should: it waits out an outage); a row the table cannot take (schema, BigQuery's refusal, a
    missing table) is never retried: the output is its dead letter, so nothing stalls or is lost;
    with `fail_on_reject` (the dead-letters table) it fails the bundle instead.

    `buffer_seconds` > 0 batches rows across bundles (see the module docstring): up to
    `batch_size` rows per shard, waiting at most that long for a batch to fill.
    """

    def __init__(
        self,
        table: str,
        batch_size: int = 500,
        validate: bool = True,
        row_id: Callable[[Mapping[str, Any]], str] | None = None,
        *,
        retry_forever: bool = False,
        ack: bool = False,
        fail_on_reject: bool = False,
        buffer_seconds: float = 0.0,
    ) -> None:
        super().__init__()
        if batch_size < 1 or batch_size > 10_000:
            raise ValueError(f"batch_size must be in 1..10000, got {batch_size}")
        if buffer_seconds < 0:
            raise ValueError(f"buffer_seconds must be >= 0, got {buffer_seconds}")
        self.table = check_table_id(table)
        self.batch_size = batch_size
        self.validate = validate
        self.row_id = row_id
        self.buffer_seconds = buffer_seconds
        self.options = {"retry_forever": retry_forever, "ack": ack, "fail_on_reject": fail_on_reject}

    def expand(self, rows: beam.PCollection) -> beam.PCollection:
        if not self.buffer_seconds:
            fn = _WriteRowsFn(self.table, self.batch_size, self.validate, self.row_id, **self.options)
            return rows | "InsertRows" >> beam.ParDo(fn)
        row_id = self.row_id
        with_ids = rows | "WithRowIds" >> beam.Map(lambda row: {**row, ROW_ID_KEY: row_id(row)} if row_id else row)
        batches = (
            with_ids
            | "ShardByRowId" >> beam.Map(lambda row: (write_shard(row), row)).with_output_types(KV[int, Any])
            | "BatchAcrossBundles"
            >> beam.GroupIntoBatches(self.batch_size, max_buffering_duration_secs=self.buffer_seconds)
        )
        fn = _WriteBatchesFn(self.table, self.batch_size, self.validate, None, **self.options)
        return batches | "InsertBatches" >> beam.ParDo(fn)


class WriteRowsToFiles(beam.PTransform):
    """rows -> OUTPUT/<name>-SSSSS-of-NNNNN.<jsonl|parquet>."""

    def __init__(self, output: str, name: str, file_format: str = "jsonl") -> None:
        super().__init__()
        self._prefix = f"{output.rstrip('/')}/{name}"
        self._name, self._format = name, file_format

    def expand(self, rows):
        if self._format == "parquet":
            return rows | "WriteParquet" >> beam.io.WriteToParquet(
                self._prefix, arrow_schema(self._name), file_name_suffix=".parquet"
            )
        return (
            rows
            | "ToJson" >> beam.Map(lambda row: json.dumps(row, sort_keys=True))
            | "WriteJsonl" >> beam.io.WriteToText(self._prefix, file_name_suffix=".jsonl")
        )


@dataclass(frozen=True)
class Destinations:
    """Where a job's results go: BigQuery table ids by result name, or a folder of files;
    in streaming also the alert and dead-letter topics (full paths)."""

    tables: dict[str, str] = field(default_factory=dict)
    folder: str | None = None
    file_format: str = "jsonl"
    alerts_topic: str | None = None
    dead_letter_topic: str | None = None
    streaming: bool = False  # wait out outages; acknowledge messages once their rows are written
    write_batch_rows: int = 500  # rows per insertAll request (and per cross-bundle batch)
    write_buffer_seconds: float = 0.0  # > 0: batch rows across bundles (WriteToBigQueryRows)

    def __post_init__(self) -> None:
        if bool(self.tables) == bool(self.folder):
            raise ValueError("give either BigQuery tables or a folder, not both or neither")


class WriteResults(beam.PTransform):
    """{"predictions": Predictions, "dead_letters"|"alerts"|"explanations": rows} -> the sinks."""

    def __init__(self, destinations: Destinations) -> None:
        super().__init__()
        self._to = destinations

    def expand(self, results: dict[str, beam.PCollection]) -> None:
        to = self._to
        rows = dict(results)
        if "predictions" in rows:
            rows["predictions"] = rows["predictions"] | "PredictionRows" >> beam.Map(prediction_row)
        dead = rows.pop("dead_letters")
        if to.folder:
            for name, pcoll in [*rows.items(), ("dead_letters", dead)]:
                pcoll | f"Write_{name}" >> WriteRowsToFiles(to.folder, name, to.file_format)
        else:
            rejected = [self._to_table(name, pcoll) for name, pcoll in rows.items()]
            dead = (dead, *rejected) | "WithRejectedRows" >> beam.Flatten()
            self._to_table("dead_letters", dead)  # a dead letter it cannot take fails the bundle
        if to.alerts_topic and "alerts" in rows:
            messages = [rows["alerts"] | "AlertMessages" >> beam.Map(alert_message)]
            if "camera_health" in rows:  # on the same topic, told apart by the event=camera_health attribute
                messages.append(rows["camera_health"] | "HealthMessages" >> beam.Map(health_message))
            (
                tuple(messages)
                | "AllAlertMessages" >> beam.Flatten()
                | "PublishAlerts" >> beam.io.WriteToPubSub(to.alerts_topic, with_attributes=True)
            )
        if to.dead_letter_topic:
            (
                dead
                | "DeadLetterMessages" >> beam.Map(dead_letter_message)
                | "PublishDeadLetters" >> beam.io.WriteToPubSub(to.dead_letter_topic, with_attributes=True)
            )

    def _to_table(self, name: str, rows: beam.PCollection) -> beam.PCollection:
        # In streaming, predictions and dead letters carry the message id: written, they are acknowledged.
        streaming = self._to.streaming
        write = WriteToBigQueryRows(
            self._to.tables[name],
            batch_size=self._to.write_batch_rows,
            row_id=ROW_IDS[name],
            retry_forever=streaming,
            ack=streaming and name in ("predictions", "dead_letters"),
            fail_on_reject=name == "dead_letters",
            # Dead letters are few, and some are made by the batched writes' timers, with the window's
            # last timestamp: a second grouping could drop them as late, a per-bundle write cannot.
            buffer_seconds=0.0 if name == "dead_letters" else self._to.write_buffer_seconds,
        )
        return rows | f"Write_{name}" >> write
