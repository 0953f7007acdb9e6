"""Checking a JSON row against a BigQuery table schema (API JSON form), before it is sent.

The BigQuery emulator accepts rows real BigQuery rejects, so `firewatch.cloud.bigquery_rows.RowWriter`
checks every row first: unknown columns, missing REQUIRED values, REPEATED columns that are not
lists, RECORDs that are not objects, and values of the wrong type. Pure: no client, no request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?\s*(Z|z|[+-]\d{2}(:?\d{2})?|UTC)?$")


def _type_error(field_type: str, value: Any) -> str | None:
    if field_type in ("STRING", "JSON", "BYTES", "GEOGRAPHY"):
        return None if isinstance(value, str) else "expected a string"
    if field_type in ("INTEGER", "INT64"):
        if isinstance(value, bool):
            return "expected an integer, got a boolean"
        if isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip())):
            return None
        if isinstance(value, float) and value.is_integer():
            return None
        return "expected an integer"
    if field_type in ("FLOAT", "FLOAT64", "NUMERIC", "BIGNUMERIC"):
        if isinstance(value, bool):
            return "expected a number, got a boolean"
        if isinstance(value, int | float):
            return None
        try:
            float(value)
        except (TypeError, ValueError):
            return "expected a number"
        return None
    if field_type in ("BOOLEAN", "BOOL"):
        return None if isinstance(value, bool) else "expected true/false"
    if field_type == "TIMESTAMP":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return None  # epoch seconds
        if isinstance(value, str) and _TIMESTAMP_RE.match(value.strip()):
            return None
        return "expected an RFC 3339 timestamp string such as 2024-05-01T12:00:00Z"
    if field_type == "DATE":
        return None if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else "expected YYYY-MM-DD"
    return None  # other types: left to the server


def row_problems(row: Mapping[str, Any], schema: Sequence[Mapping[str, Any]], prefix: str = "") -> list[str]:
    """What is wrong with a JSON row for a schema (API JSON form); [] when it fits."""
    problems: list[str] = []
    fields = {field["name"]: field for field in schema}
    for key in row:
        if key not in fields:
            problems.append(f"{prefix}{key}: no such column in the table")
    for name, field in fields.items():
        mode = field.get("mode", "NULLABLE").upper()
        field_type = field.get("type", "STRING").upper()
        value = row.get(name)
        path = f"{prefix}{name}"
        if value is None:
            if mode == "REQUIRED":
                problems.append(f"{path}: REQUIRED value missing")
            continue
        values: list[Any]
        if mode == "REPEATED":
            if not isinstance(value, list | tuple):
                problems.append(f"{path}: REPEATED column needs a list, got {type(value).__name__}")
                continue
            values = list(value)
        else:
            values = [value]
        for index, item in enumerate(values):
            where = f"{path}[{index}]" if mode == "REPEATED" else path
            if item is None:
                problems.append(f"{where}: null inside a REPEATED column")
            elif field_type in ("RECORD", "STRUCT"):
                if not isinstance(item, Mapping):
                    problems.append(f"{where}: RECORD needs an object, got {type(item).__name__}")
                else:
                    problems += row_problems(item, field.get("fields", []), prefix=f"{where}.")
            else:
                error = _type_error(field_type, item)
                if error:
                    problems.append(f"{where}: {error}, got {item!r:.80}")
    return problems
