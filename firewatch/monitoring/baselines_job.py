"""`firewatch baselines update`: learn each camera region's quiet maximum from the predictions table.

Runs `firewatch.core.baselines.update_sql` over the last `--baselines-days` of predictions (leaving
out the frames inside alerts, except those an operator judged false alarms, and the last
`--baselines-settle-minutes`) and appends the result to the `region_baselines` table with one
`computed_at`; the running pipelines re-read the latest computation every
`--baselines-refresh-seconds`. Schedule it (cron, Cloud Scheduler, a BigQuery scheduled query of the
same SQL) about once an hour.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from firewatch.config.scoring import DEFAULT_NAMES
from firewatch.core.baselines import BaselineConfig, update_sql
from firewatch.core.rows import rfc3339


class BaselinesUpdateConfig(BaseModel):
    """`firewatch baselines update` (one flag per field)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    project: str | None = Field(None, description="Google Cloud project (default: from the environment)")
    dataset: str = Field(DEFAULT_NAMES.dataset, description="BigQuery dataset")
    predictions_table: str = Field(DEFAULT_NAMES.predictions_table, description="predictions table read")
    alerts_table: str = Field(DEFAULT_NAMES.alerts_table, description="alerts table (their frames are left out)")
    feedback_table: str = Field(
        DEFAULT_NAMES.feedback_table, description="operators' verdicts (frames of false alarms count)"
    )
    baselines_table: str = Field(DEFAULT_NAMES.baselines_table, description="table the baselines are appended to")
    baselines: BaselineConfig = Field(default_factory=BaselineConfig)


@dataclass(frozen=True)
class BaselinesReport:
    rows: int
    cameras: int
    window_start: dt.datetime
    window_end: dt.datetime
    computed_at: dt.datetime


def update_baselines(config: BaselinesUpdateConfig, now: dt.datetime | None = None) -> BaselinesReport:
    """One computation of every camera's baselines, appended to the baselines table."""
    from firewatch.clients.query import QueryParam, QuerySpec, run_query
    from firewatch.cloud.bigquery_rows import insert_rows
    from firewatch.cloud.clients import bigquery_client, project_id

    project = project_id(config.project)
    now = now or dt.datetime.now(dt.UTC)
    until = now - dt.timedelta(minutes=config.baselines.settle_minutes)
    since = until - dt.timedelta(days=config.baselines.days)
    bq = bigquery_client(project)
    table = lambda name: f"{project}.{config.dataset}.{name}"  # noqa: E731
    sql = update_sql(table(config.predictions_table), table(config.alerts_table), table(config.feedback_table))
    params = [
        QueryParam("since", "TIMESTAMP", since),
        QueryParam("until", "TIMESTAMP", until),
        QueryParam("floor", "FLOAT64", config.baselines.record_floor),
    ]
    found = run_query(QuerySpec(sql, params), client=bq)
    rows = [
        {
            "camera_id": r["camera_id"],
            "model_version": r["model_version"],
            "hour": int(r["hour"]),
            "region": r["region"],
            "max_probability": float(r["max_probability"]),
            "frames": int(r["frames"]),
            "computed_at": rfc3339(now),
            "window_start": rfc3339(since),
            "window_end": rfc3339(until),
        }
        for r in found
    ]
    insert_rows(table(config.baselines_table), rows, client=bq)
    return BaselinesReport(len(rows), len({r["camera_id"] for r in rows}), since, until, now)
