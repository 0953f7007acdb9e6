"""Sinks, one home for both jobs: BigQuery tables, JSONL / Parquet files, and Pub/Sub topics.

* `WriteToBigQueryRows(table)`: insertAll through the official client (`RowWriter`), the
  emulator and real BigQuery alike; rows are buffered per bundle, their insertIds come from
  the row itself (`firewatch.core.rows.*_row_id`).
* `WriteRowsToFiles(output, name, format)`: `OUTPUT/<name>-SSSSS-of-NNNNN.jsonl|parquet`, with
  an Arrow schema derived from the same BigQuery schema files, so both hold the same columns.
* `WriteResults(destinations)`: the results of a job (typed predictions, dead letters, alert
  events, explanation rows) to their tables or files, and in streaming the alert and
  dead-letter topics. Predictions become rows here, and only here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam
from apache_beam.io.gcp.pubsub import PubsubMessage

from firewatch.beam.dead_letters import dead_letter_message
from firewatch.cloud.bigquery_rows import ROW_ID_KEY, RowWriter, check_table_id
from firewatch.core.rows import (
    alert_row_id,
    dead_letter_row_id,
    explanation_row_id,
    prediction_row,
    prediction_row_id,
)
from infra.resources import schema_for_table

ROW_IDS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "predictions": prediction_row_id,
    "dead_letters": dead_letter_row_id,
    "alerts": alert_row_id,
    "explanations": explanation_row_id,
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
    """An alert event as the alert topic's message: the JSON event as data, with `camera_id`,
    `event` and `alert_id` attributes for subscription filters."""
    attributes = {"camera_id": event["camera_id"], "event": event["event"], "alert_id": event["alert_id"]}
    return PubsubMessage(json.dumps(event, sort_keys=True).encode("utf-8"), attributes)


class _WriteRowsFn(beam.DoFn):
    def __init__(
        self, table: str, batch_size: int, validate: bool, row_id: Callable[[Mapping[str, Any]], str] | None = None
    ) -> None:
        self.table = check_table_id(table)
        self.row_id = row_id
        self.batch_size = batch_size
        self.validate = validate
        self.writer: RowWriter | None = None
        self.buffer: list[Mapping[str, Any]] = []
        self.rows_written = beam.metrics.Metrics.counter("firewatch.bigquery", "rows_written")

    def setup(self) -> None:
        from firewatch.cloud import clients as gcp

        gcp.prepare_beam_offline_auth()
        self.writer = RowWriter(self.table, validate=self.validate)

    def start_bundle(self) -> None:
        self.buffer = []

    def process(self, row: Mapping[str, Any]) -> Iterable[None]:
        self.buffer.append({**row, ROW_ID_KEY: self.row_id(row)} if self.row_id else row)
        if len(self.buffer) >= self.batch_size:
            self._flush()
        return []

    def finish_bundle(self) -> None:
        self._flush()

    def _flush(self) -> None:
        if not self.buffer:
            return
        assert self.writer is not None, "setup() not called"
        count = self.writer.write(self.buffer, batch_size=self.batch_size)
        self.rows_written.inc(count)
        self.buffer = []


class WriteToBigQueryRows(beam.PTransform):
    """Write dict rows to `project.dataset.table` with insertAll (emulator or real BigQuery).

    Rows are buffered per bundle and sent `batch_size` at a time; a failure raises (the runner
    retries the bundle), so no row is silently lost. `row_id(row)` (or `_row_id` in a row) becomes
    its insertId, so a retried bundle or a redelivered message is de-duplicated by BigQuery.
    """

    def __init__(
        self,
        table: str,
        batch_size: int = 500,
        validate: bool = True,
        row_id: Callable[[Mapping[str, Any]], str] | None = None,
    ) -> None:
        super().__init__()
        if batch_size < 1 or batch_size > 10_000:
            raise ValueError(f"batch_size must be in 1..10000, got {batch_size}")
        self.table = check_table_id(table)
        self.batch_size = batch_size
        self.validate = validate
        self.row_id = row_id

    def expand(self, rows: beam.PCollection) -> beam.PCollection:
        return rows | "InsertRows" >> beam.ParDo(_WriteRowsFn(self.table, self.batch_size, self.validate, self.row_id))


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

    def __post_init__(self) -> None:
        if bool(self.tables) == bool(self.folder):
            raise ValueError("give either BigQuery tables or a folder, not both or neither")


class WriteResults(beam.PTransform):
    """{"predictions": Predictions, "dead_letters"|"alerts"|"explanations": rows} -> the sinks."""

    def __init__(self, destinations: Destinations) -> None:
        super().__init__()
        self._to = destinations

    def expand(self, results: dict[str, beam.PCollection]) -> dict[str, beam.PCollection]:
        to = self._to
        rows = dict(results)
        if "predictions" in rows:
            rows["predictions"] = rows["predictions"] | "PredictionRows" >> beam.Map(prediction_row)
        written = {}
        for name, pcoll in rows.items():
            if to.folder:
                written[name] = pcoll | f"Write_{name}" >> WriteRowsToFiles(to.folder, name, to.file_format)
            else:
                written[name] = pcoll | f"Write_{name}" >> WriteToBigQueryRows(to.tables[name], row_id=ROW_IDS[name])
        if to.alerts_topic and "alerts" in rows:
            (
                rows["alerts"]
                | "AlertMessages" >> beam.Map(alert_message)
                | "PublishAlerts" >> beam.io.WriteToPubSub(to.alerts_topic, with_attributes=True)
            )
        if to.dead_letter_topic and "dead_letters" in rows:
            (
                rows["dead_letters"]
                | "DeadLetterMessages" >> beam.Map(dead_letter_message)
                | "PublishDeadLetters" >> beam.io.WriteToPubSub(to.dead_letter_topic, with_attributes=True)
            )
        return written
