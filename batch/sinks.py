"""Batch sinks: the BigQuery tables (same schemas as streaming) or JSONL / Parquet files.

File sinks write `OUTPUT/predictions-*.jsonl`, `OUTPUT/dead_letters-*.jsonl` and
`OUTPUT/explanations-*.jsonl` (or `.parquet`, with an Arrow schema derived from the
BigQuery schema files, so both sinks hold the same columns).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import apache_beam as beam

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "infra" / "schemas"


def load_schema(table: str) -> list[dict[str, Any]]:
    return json.loads((SCHEMA_DIR / f"{table}.json").read_text())


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

    def field_type(field: dict[str, Any]):
        if field["type"] == "RECORD":
            kind = pa.struct([pa.field(f["name"], field_type(f)) for f in field["fields"]])
        else:
            kind = scalar[field["type"]]
        return pa.list_(kind) if field.get("mode") == "REPEATED" else kind

    return pa.schema([pa.field(f["name"], field_type(f)) for f in load_schema(table)])


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
