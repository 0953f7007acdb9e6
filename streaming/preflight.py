"""What a streaming job needs before it reads a frame: its subscription, topics and tables exist.

`missing(cfg, ...)` asks Pub/Sub and BigQuery (the same clients the job writes with) and returns one
line per missing resource, with how to create it; `check(cfg)` raises a `UserError` with those lines,
so the CLI prints them and exits non-zero before the model loads or the runner starts (the local
runner would otherwise log a traceback per failed pull and keep running, reading nothing). Only
"does not exist" is judged here: a permission error or an unreachable service propagates, and the
CLI's cloud-error hint says what it was.
"""

from __future__ import annotations

from typing import Any

from google.api_core.exceptions import NotFound

from firewatch.errors import UserError
from streaming.config import StreamingConfig
from streaming.pipeline import destinations

CREATE_HINT = "create it with `firewatch infra apply` (local stack) or Terraform (infra/terraform)"


def missing(cfg: StreamingConfig, subscriber: Any, publisher: Any, bigquery: Any) -> list[str]:
    """One line per resource the job needs that does not exist."""
    out: list[str] = []
    subscription = cfg.subscription_path()
    if not _exists(lambda: subscriber.get_subscription(request={"subscription": subscription})):
        out.append(f"subscription {subscription} does not exist: {CREATE_HINT}")
    where = destinations(cfg)
    for topic in filter(None, (where.alerts_topic, where.dead_letter_topic)):
        if not _exists(lambda topic=topic: publisher.get_topic(request={"topic": topic})):
            out.append(f"topic {topic} does not exist: {CREATE_HINT}")
    for name, table in where.tables.items():
        if name == "explanations" and not cfg.explain:
            continue
        if not _exists(lambda table=table: bigquery.get_table(table)):
            out.append(f"{name} table {table} does not exist: {CREATE_HINT}")
    return out


def check(cfg: StreamingConfig) -> None:
    """Raise a UserError naming every missing resource (nothing missing: return)."""
    from firewatch.cloud.clients import bigquery_client, publisher_client, subscriber_client

    problems = missing(cfg, subscriber_client(), publisher_client(), bigquery_client(cfg.resolved_project()))
    if problems:
        raise UserError("the streaming job cannot start:\n  " + "\n  ".join(problems))


def _exists(call: Any) -> bool:
    try:
        call()
    except NotFound:
        return False
    return True
