"""Checks a row against a BigQuery JSON schema in infra/schemas: names, modes and value types."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

SCHEMAS = Path(__file__).resolve().parents[2] / "infra" / "schemas"
_TYPES: dict[str, tuple[type, ...]] = {
    "STRING": (str,),
    "FLOAT": (float,),
    "INTEGER": (int,),
    "BOOLEAN": (bool,),
    "TIMESTAMP": (str,),
    "RECORD": (dict,),
}


def load_schema(name: str) -> list[dict[str, Any]]:
    return json.loads((SCHEMAS / f"{name}.json").read_text())


def check_row(row: dict[str, Any], fields: list[dict[str, Any]], where: str = "row") -> None:
    """Raise AssertionError naming the first field that does not match the schema."""
    names = {f["name"] for f in fields}
    assert set(row) <= names, f"{where}: fields not in the schema: {sorted(set(row) - names)}"
    for field in fields:
        name, mode, kind = field["name"], field.get("mode", "NULLABLE"), field["type"]
        value = row.get(name)
        if mode == "REQUIRED":
            assert value is not None, f"{where}.{name} is REQUIRED but missing"
        if value is None:
            continue
        values = value if mode == "REPEATED" else [value]
        if mode == "REPEATED":
            assert isinstance(value, list), f"{where}.{name} is REPEATED: expected a list, got {value!r}"
        for item in values:
            ok = isinstance(item, _TYPES[kind]) and not (kind != "BOOLEAN" and isinstance(item, bool))
            assert ok, f"{where}.{name}: {item!r} is not a {kind}"
            if kind == "TIMESTAMP":
                assert item.endswith("Z"), f"{where}.{name}: {item!r} is not RFC3339 UTC"
                datetime.fromisoformat(item)
            if kind == "RECORD":
                check_row(item, field["fields"], f"{where}.{name}")
