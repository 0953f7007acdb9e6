"""`firewatch model compare REGISTRY`: the shadow version against the main path's, from BigQuery.

Reads the frames both scored (`shadow_predictions` joined to `predictions` on frame_key, in the
window) through the same client path as `firewatch query` (`firewatch.clients.query`: the emulator
of `firewatch stack up`, or a real project), and compares each (shadow version, current version) pair
with the pure maths of `model.evaluation.shadow_compare`. The version compared is `--version`, else the one the
registry's `shadow` names now, else (none named) every shadow version found in the window.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from firewatch.clients.query import QueryParam, QuerySpec, parse_duration, run_query
from model.config import CompareConfig
from model.evaluation.shadow_compare import compare

# The main row is written just before its shadow row (the same frame, the same job): this margin
# reaches back past the window's start for the main rows of its first shadow rows (partition pruning).
PREDICTIONS_MARGIN = dt.timedelta(days=1)


def compare_query(
    shadow_table: str, predictions_table: str, since: dt.datetime, version: str | None = None
) -> QuerySpec:
    """Each frame scored by a shadow version in the window, with the main path's row of the same frame."""
    where = "s.scored_at >= @since AND p.processed_at >= @predictions_since"
    params = [
        QueryParam("since", "TIMESTAMP", since),
        QueryParam("predictions_since", "TIMESTAMP", since - PREDICTIONS_MARGIN),
    ]
    if version:
        where += " AND s.model_version = @version"
        params.append(QueryParam("version", "STRING", version))
    sql = (
        "SELECT s.frame_key AS frame_key, s.camera_id AS camera_id,\n"
        "  COALESCE(p.captured_at, s.captured_at) AS captured_at,\n"
        "  s.model_version AS shadow_version, p.model_version AS current_version,\n"
        "  s.fire_probability AS shadow_probability, s.threshold AS shadow_threshold, s.label AS shadow_label,\n"
        "  p.fire_probability AS current_probability, p.threshold AS current_threshold, p.label AS current_label\n"
        f"FROM `{shadow_table}` AS s\nJOIN `{predictions_table}` AS p ON p.frame_key = s.frame_key\n"
        f"WHERE {where}\nORDER BY camera_id, captured_at, frame_key"
    )
    return QuerySpec(sql, params)


def shadow_version(config: CompareConfig) -> str | None:
    """--version, else the version the registry's `shadow` names (None: every shadow version)."""
    if config.version:
        return config.version
    from firewatch.cloud.registry import read_pointer
    from firewatch.core.registry import SHADOW

    return read_pointer(config.registry, SHADOW)


def run_compare(
    config: CompareConfig,
    *,
    now: dt.datetime | None = None,
    query: Callable[[QuerySpec, str], Sequence[Mapping[str, Any]]] | None = None,
) -> dict[str, Any]:
    """{"version": the shadow version compared (None: all), "since": ..., "pairs": [comparison, ...]}.
    `query(spec, project)` replaces BigQuery (tests)."""
    from firewatch.cloud.clients import project_id

    project = project_id(config.project)
    since = (now or dt.datetime.now(dt.UTC)) - parse_duration(config.since)
    version = shadow_version(config)
    spec = compare_query(
        f"{project}.{config.dataset}.{config.shadow_predictions_table}",
        f"{project}.{config.dataset}.{config.predictions_table}",
        since,
        version,
    )
    rows = query(spec, project) if query else run_query(spec, project=project)
    return {"version": version, "since": since.isoformat(), "pairs": compare(rows, config.confirm)}
