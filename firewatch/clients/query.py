"""`firewatch query`: canned BigQuery queries over Firewatch's tables, and raw SQL with parameters.

    firewatch query latest-alerts [--since 24h] [--camera C] [--limit 20] [--format table|json]
    firewatch query fire-rate     [--since 1h] ...       fire frames / all frames per camera
    firewatch query latency       [--since 1h] ...       publish-to-row latency per camera (streaming)
    firewatch query sql "SELECT ... WHERE camera_id = @cam" --param cam=STRING:cam-1

The SQL builders are pure functions (`QuerySpec` = SQL + typed parameters); the time window is
a TIMESTAMP parameter computed here, so results do not depend on the server clock. Works on the
BigQuery emulator (`firewatch stack up`) and on a real project (`--project`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
SCALAR_TYPES = {
    "STRING": "STRING",
    "INT64": "INT64",
    "INTEGER": "INT64",
    "INT": "INT64",
    "FLOAT64": "FLOAT64",
    "FLOAT": "FLOAT64",
    "BOOL": "BOOL",
    "BOOLEAN": "BOOL",
    "TIMESTAMP": "TIMESTAMP",
    "DATE": "DATE",
    "DATETIME": "DATETIME",
    "NUMERIC": "NUMERIC",
    "BYTES": "BYTES",
}
CANNED = ("latest-alerts", "fire-rate", "latency")


@dataclass(frozen=True)
class QueryParam:
    """A named, typed query parameter; `array` for ARRAY<type> parameters."""

    name: str
    type: str
    value: Any
    array: bool = False


@dataclass(frozen=True)
class QuerySpec:
    sql: str
    params: list[QueryParam] = field(default_factory=list)


# -- pure parsing ----------------------------------------------------------------------------------


def parse_duration(text: str) -> dt.timedelta:
    """'90s', '30m', '1h', '2d', '1w', '1h30m' → timedelta (ValueError otherwise)."""
    cleaned = text.strip().replace(" ", "")
    matches = list(_DURATION_RE.finditer(cleaned))
    if not cleaned or not matches or "".join(m.group(0) for m in matches) != cleaned:
        raise ValueError(f"bad duration {text!r}: use e.g. 90s, 30m, 1h, 2d, 1w or 1h30m")
    seconds = sum(float(m.group(1)) * _UNIT_SECONDS[m.group(2).lower()] for m in matches)
    if seconds <= 0:
        raise ValueError(f"duration {text!r} must be positive")
    return dt.timedelta(seconds=seconds)


def _convert(type_name: str, raw: str) -> Any:
    if type_name == "STRING":
        return raw
    if type_name == "INT64":
        return int(raw)
    if type_name == "FLOAT64":
        return float(raw)
    if type_name == "NUMERIC":
        return decimal.Decimal(raw)
    if type_name == "BOOL":
        lowered = raw.strip().lower()
        if lowered not in ("true", "false", "1", "0"):
            raise ValueError(f"{raw!r} is not a boolean (true/false)")
        return lowered in ("true", "1")
    if type_name == "TIMESTAMP":
        value = dt.datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if type_name == "DATETIME":
        return dt.datetime.fromisoformat(raw.strip())
    if type_name == "DATE":
        return dt.date.fromisoformat(raw.strip())
    if type_name == "BYTES":
        return raw.encode()
    raise ValueError(f"unsupported parameter type {type_name}")


def parse_param(text: str) -> QueryParam:
    """`name=TYPE:value` (TYPE optional, default STRING; `ARRAY<TYPE>:a,b,c` for arrays)."""
    name, sep, rest = text.partition("=")
    name = name.strip().lstrip("@")
    if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"bad --param {text!r}: use name=TYPE:value, e.g. cam=STRING:cam-1 or n=INT64:5")
    type_part, colon, value = rest.partition(":")
    array_match = re.fullmatch(r"ARRAY<(\w+)>", type_part.strip(), re.IGNORECASE)
    if colon and array_match and array_match.group(1).upper() in SCALAR_TYPES:
        element = SCALAR_TYPES[array_match.group(1).upper()]
        items = [item for item in value.split(",") if item != ""]
        try:
            return QueryParam(name, element, [_convert(element, item) for item in items], array=True)
        except (ValueError, decimal.InvalidOperation) as exc:
            raise ValueError(f"bad --param {text!r}: {exc}") from exc
    if colon and type_part.strip().upper() in SCALAR_TYPES:
        type_name = SCALAR_TYPES[type_part.strip().upper()]
    else:  # no (known) type prefix: the whole right-hand side is a STRING
        type_name, value = "STRING", rest
    try:
        return QueryParam(name, type_name, _convert(type_name, value))
    except (ValueError, decimal.InvalidOperation) as exc:
        raise ValueError(f"bad --param {text!r}: {exc}") from exc


# -- pure SQL builders -----------------------------------------------------------------------------


def _window(since: dt.datetime, camera: str | None, time_column: str) -> tuple[str, list[QueryParam]]:
    where = f"{time_column} >= @since"
    params = [QueryParam("since", "TIMESTAMP", since)]
    if camera:
        where += " AND camera_id = @camera"
        params.append(QueryParam("camera", "STRING", camera))
    return where, params


def latest_alerts_query(table: str, since: dt.datetime, camera: str | None = None, limit: int = 20) -> QuerySpec:
    """The latest alert events (open/update/close), newest first."""
    where, params = _window(since, camera, "event_time")
    sql = (
        "SELECT event_time, camera_id, alert_id, event, fire_frames, peak_probability, mean_probability, "
        "first_frame_at, last_frame_at, peak_frame_key, peak_box, explanation_uri, model_version\n"
        f"FROM `{table}`\nWHERE {where}\nORDER BY event_time DESC\nLIMIT {int(limit)}"
    )
    return QuerySpec(sql, params)


def fire_rate_query(table: str, since: dt.datetime, camera: str | None = None, limit: int = 20) -> QuerySpec:
    """Per camera: frames, fire frames, fire rate, mean/max probability, last frame time."""
    where, params = _window(since, camera, "processed_at")
    sql = (
        "SELECT camera_id, COUNT(*) AS frames, COUNTIF(label = 'fire') AS fire_frames,\n"
        "  SAFE_DIVIDE(COUNTIF(label = 'fire'), COUNT(*)) AS fire_rate,\n"
        "  AVG(fire_probability) AS mean_probability, MAX(fire_probability) AS max_probability,\n"
        "  MAX(processed_at) AS last_processed_at\n"
        f"FROM `{table}`\nWHERE {where}\nGROUP BY camera_id\n"
        f"ORDER BY fire_rate DESC, frames DESC, camera_id\nLIMIT {int(limit)}"
    )
    return QuerySpec(sql, params)


def latency_query(table: str, since: dt.datetime, camera: str | None = None, limit: int = 20) -> QuerySpec:
    """Per camera: publish-to-row latency (ms) of streaming rows: mean, p50, p95, max."""
    where, params = _window(since, camera, "processed_at")
    sql = (
        "SELECT camera_id, COUNT(*) AS frames, AVG(latency_ms) AS mean_ms,\n"
        "  APPROX_QUANTILES(latency_ms, 100)[OFFSET(50)] AS p50_ms,\n"
        "  APPROX_QUANTILES(latency_ms, 100)[OFFSET(95)] AS p95_ms, MAX(latency_ms) AS max_ms\n"
        f"FROM `{table}`\nWHERE {where} AND latency_ms IS NOT NULL\nGROUP BY camera_id\n"
        f"ORDER BY p95_ms DESC, camera_id\nLIMIT {int(limit)}"
    )
    return QuerySpec(sql, params)


# -- configuration ---------------------------------------------------------------------------------


class QueryConfig(BaseModel):
    """One `firewatch query` invocation; CLI flags map 1:1 to these fields."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["latest-alerts", "fire-rate", "latency", "sql"]
    since: str = Field("24h", description="Time window back from now: 30m, 1h, 7d.")
    camera: str | None = Field(None, description="Only this camera_id.")
    limit: int = Field(20, ge=1, le=100_000, description="Maximum rows.")
    format: Literal["table", "json"] = Field("table", description="Output format.")
    project: str | None = Field(None, description="Project (default: stack.env / FIREWATCH_PROJECT / gcloud).")
    dataset: str | None = Field(None, description="Dataset (default: firewatch).")
    table: str | None = Field(None, description="Table name override for canned queries.")
    sql: str | None = Field(None, description="SQL text; unqualified tables resolve in the dataset.")
    param: list[str] = Field(
        default_factory=list,
        description="Query parameter NAME=TYPE:VALUE, repeatable; TYPE: STRING, INT64, FLOAT64, BOOL, TIMESTAMP, "
        "DATE, NUMERIC or ARRAY<TYPE> with comma-separated values.",
        json_schema_extra={"repeat": True},
    )

    @field_validator("since")
    @classmethod
    def _since(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("param")
    @classmethod
    def _params(cls, values: list[str]) -> list[str]:
        for value in values:
            parse_param(value)
        return values


def build_query(config: QueryConfig, project: str, dataset: str, now: dt.datetime | None = None) -> QuerySpec:
    """The QuerySpec for a validated config (pure: `now` injectable)."""
    if config.kind == "sql":
        if not config.sql or not config.sql.strip():
            raise ValueError("query sql needs the SQL text, e.g. firewatch query sql 'SELECT 1'")
        return QuerySpec(config.sql, [parse_param(p) for p in config.param])
    from infra.resources import ResourceNames

    defaults = ResourceNames(project=project)
    default_table = {"latest-alerts": defaults.alerts_table}.get(config.kind, defaults.predictions_table)
    table = f"{project}.{dataset}.{config.table or default_table}"
    since = (now or dt.datetime.now(dt.UTC)) - parse_duration(config.since)
    builder = {"latest-alerts": latest_alerts_query, "fire-rate": fire_rate_query, "latency": latency_query}
    return builder[config.kind](table, since, config.camera, config.limit)


# -- execution and output --------------------------------------------------------------------------


def to_bigquery_params(params: Sequence[QueryParam]) -> list[Any]:
    from google.cloud import bigquery

    return [
        bigquery.ArrayQueryParameter(p.name, p.type, p.value)
        if p.array
        else bigquery.ScalarQueryParameter(p.name, p.type, p.value)
        for p in params
    ]


def run_query(
    spec: QuerySpec, project: str | None = None, default_dataset: str | None = None, client: Any | None = None
) -> list[dict[str, Any]]:
    """Run a QuerySpec; rows as dicts."""
    from google.cloud import bigquery

    from firewatch.cloud import clients as gcp

    client = client or gcp.bigquery_client(project)
    job_config = bigquery.QueryJobConfig(query_parameters=to_bigquery_params(spec.params))
    if default_dataset:
        job_config.default_dataset = default_dataset
    return [dict(row.items()) for row in client.query(spec.sql, job_config=job_config).result()]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.6g}"
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)
    return str(value)


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as an aligned text table ('(no rows)' when empty)."""
    if not rows:
        return "(no rows)"
    columns = list(rows[0].keys())
    cells = [[_cell(row.get(col)) for col in columns] for row in rows]
    widths = [max(len(col), *(len(r[i]) for r in cells)) for i, col in enumerate(columns)]
    lines = ["  ".join(col.ljust(w) for col, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def format_json(rows: Sequence[Mapping[str, Any]]) -> str:
    def default(value: Any) -> Any:
        if isinstance(value, dt.datetime | dt.date):
            return value.isoformat().replace("+00:00", "Z")
        if isinstance(value, decimal.Decimal | bytes):
            return str(value)
        return str(value)

    return json.dumps(list(rows), default=default, indent=2)


def print_rows(rows: Sequence[Mapping[str, Any]], format: str = "table") -> None:
    """Print rows as a table (default) or JSON."""
    print(format_json(rows) if format == "json" else format_table(rows))


# -- CLI -------------------------------------------------------------------------------------------


def _command(args: argparse.Namespace) -> int:
    from firewatch.cloud import clients as gcp
    from firewatch.config.options import config_from_mapping
    from firewatch.errors import ConfigError, UserError
    from infra.resources import ResourceNames

    try:
        config = config_from_mapping(QueryConfig, {**vars(args), "kind": args.query_kind})
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    project = gcp.project_id(config.project)
    try:
        dataset = config.dataset or ResourceNames(project=project).dataset
    except ValidationError as exc:
        raise UserError(f"--project {project}: {exc.errors()[0]['msg'].removeprefix('Value error, ')}") from None
    try:
        spec = build_query(config, project, dataset)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    from google.api_core import exceptions as gexc

    try:
        rows = run_query(spec, project=project, default_dataset=f"{project}.{dataset}")
    except (gexc.BadRequest, gexc.NotFound) as exc:
        raise UserError(
            f"query failed: {getattr(exc, 'message', exc)}. Check the SQL and that the tables exist "
            "(`firewatch infra apply`)."
        ) from exc
    print_rows(rows, config.format)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `firewatch query latest-alerts|fire-rate|latency|sql` (flags: `QueryConfig`'s fields)."""
    from firewatch.config.options import add_config_arguments

    parser = subparsers.add_parser("query", help="Query predictions/alerts in BigQuery (canned or raw SQL).")
    kinds = parser.add_subparsers(dest="query_kind", metavar="QUERY")
    kinds.required = True

    canned_only = ("since", "camera", "limit", "table")
    helps = {
        "latest-alerts": "Latest alert events, newest first.",
        "fire-rate": "Fire frames / all frames per camera.",
        "latency": "Publish-to-row latency per camera (ms: mean, p50, p95, max).",
    }
    for kind in CANNED:
        canned = kinds.add_parser(kind, help=helps[kind])
        add_config_arguments(canned, QueryConfig, skip=("kind", "sql", "param"))
        canned.set_defaults(func=_command)
    sql = kinds.add_parser("sql", help="Raw SQL with parameters, e.g. sql 'SELECT ... @cam' --param cam=STRING:c1")
    add_config_arguments(sql, QueryConfig, skip=("kind", *canned_only), positional=("sql",))
    sql.set_defaults(func=_command)
