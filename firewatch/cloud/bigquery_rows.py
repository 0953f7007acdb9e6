"""Inserting rows into BigQuery with the official client: the emulator and real BigQuery alike.

Beam's own `WriteToBigQuery` cannot be pointed at an emulator (built-in production endpoint,
default-credential lookup), so Firewatch writes with `google-cloud-bigquery`'s `insert_rows_json`
through a client made by `firewatch.cloud.clients`. Rows are JSON-ready dicts (TIMESTAMP as RFC 3339 strings,
REPEATED as lists, RECORD as dicts); an optional `_row_id` key becomes the insertId (de-duplication on
real BigQuery; the emulator ignores it) and is stripped.

Rows are checked against the table's schema before sending (unknown columns, missing REQUIRED
values, wrong shapes/types: `firewatch.cloud.row_checks`), because the emulator accepts rows real
BigQuery rejects. Transient errors are retried with backoff, including the HTTP 403s whose reason
is a rate limit or quota (`rateLimitExceeded`, `quotaExceeded`); a 403 for access (`accessDenied`, billing, ...) raises
`BigQueryAccessError` (no row is at fault); only a row's own fault (schema, BigQuery's `invalid`)
makes it a rejected row. Anything persistent RAISES with the table, row index and reason: rows are
never dropped silently.

- `RowWriter(table)`: validates and inserts, with retries (the Beam sink wraps it:
  `firewatch.beam.sinks.WriteToBigQueryRows`).
- `insert_rows(table, rows)`: for non-Beam callers.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from firewatch.cloud.row_checks import row_problems

_LOG = logging.getLogger(__name__)

ROW_ID_KEY = "_row_id"
MAX_REQUEST_BYTES = 9 * 1024 * 1024  # insertAll caps a request at 10 MB
# Reasons (https://cloud.google.com/bigquery/docs/error-messages) that waiting fixes. BigQuery answers
# rate limits and quotas with HTTP 403, like a refused permission: the reason tells them apart.
TRANSIENT_REASONS = frozenset(
    {"backendError", "internalError", "rateLimitExceeded", "quotaExceeded", "timeout", "stopped", "tableUnavailable"}
)
_TABLE_RE = re.compile(r"^[A-Za-z0-9.:\-]+\.[A-Za-z0-9_]+\.[A-Za-z0-9_\-]+$")


class BigQueryWriteError(RuntimeError):
    """Rows could not be written (invalid rows, or errors that outlived the retries)."""


class BigQueryAccessError(BigQueryWriteError):
    """BigQuery refused the request itself (HTTP 401/403 that is not a rate limit or quota: access
    denied, billing, a disabled API). No row is at fault and waiting does not fix it: it is raised,
    so the bundle fails, nothing is acknowledged, and the runner retries it once access is fixed."""


def error_reasons(exc: BaseException) -> list[str]:
    """The `reason`s of an API error (`errors[].reason` of BigQuery's JSON error body)."""
    return [str(e.get("reason", "")) for e in getattr(exc, "errors", None) or [] if isinstance(e, Mapping)]


def refusal_kind(exc: BaseException) -> str:
    """How to treat an HTTP error of insertAll / tables.get: 'transient' (retry with backoff),
    'access' (raise: the request, not a row, is refused) or 'rows' (the rows' fault: dead letters)."""
    from google.api_core import exceptions as gexc

    reasons = error_reasons(exc)
    if reasons and all(reason in TRANSIENT_REASONS for reason in reasons):
        return "transient"
    if isinstance(exc, gexc.Forbidden | gexc.Unauthorized):
        return "access"
    if isinstance(exc, gexc.BadRequest):
        return "rows"
    return "transient"


# -- pure helpers ----------------------------------------------------------------------------------


def check_table_id(table: str) -> str:
    if not _TABLE_RE.match(table):
        raise ValueError(f"table must be 'project.dataset.table', got {table!r}")
    return table


def split_row_id(row: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """(row without `_row_id`, the row id or None)."""
    clean = dict(row)
    row_id = clean.pop(ROW_ID_KEY, None)
    return clean, (str(row_id) if row_id is not None else None)


def chunk_rows(
    rows: Sequence[dict[str, Any]], batch_size: int, max_bytes: int = MAX_REQUEST_BYTES
) -> list[list[dict[str, Any]]]:
    """Split rows into requests of at most `batch_size` rows and about `max_bytes` of JSON."""
    chunks: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for row in rows:
        row_size = len(json.dumps(row, default=str)) + 32
        if current and (len(current) >= batch_size or size + row_size > max_bytes):
            chunks.append(current)
            current, size = [], 0
        current.append(row)
        size += row_size
    if current:
        chunks.append(current)
    return chunks


def _describe(table: str, row: Mapping[str, Any], index: int, reasons: Iterable[str]) -> str:
    sample = json.dumps(row, default=str)
    if len(sample) > 300:
        sample = sample[:300] + "..."
    return f"{table} row {index}: {'; '.join(reasons)} | row: {sample}"


# -- writer ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejected:
    """A row that cannot be written, and why (schema check, BigQuery's refusal, a missing table)."""

    row: dict[str, Any]
    reason: str
    error_type: str


class TableMissing(BigQueryWriteError):
    """The table does not exist (or is not visible to these credentials)."""


class RowWriter:
    """Validates and inserts rows into one table, with retries; used by both entry points.

    `max_attempts=None` retries transient failures (connection refused, timeouts, 5xx, rate
    limits) for ever, with capped backoff: a streaming sink waits out a BigQuery outage instead
    of failing its bundle. Errors that retrying cannot fix are never retried.
    """

    def __init__(
        self,
        table: str,
        client: Any | None = None,
        validate: bool = True,
        max_attempts: int | None = 6,
        initial_backoff: float = 0.5,
        max_backoff: float = 30.0,
        request_timeout: float = 60.0,
    ) -> None:
        self.table = check_table_id(table)
        if client is None:
            from firewatch.cloud import clients as gcp

            client = gcp.bigquery_client(table.split(".")[0])
        self.client = client
        self.max_attempts = max_attempts
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.request_timeout = request_timeout
        self.validate = validate
        self._schema: list[dict[str, Any]] | None = None

    @property
    def schema(self) -> list[dict[str, Any]] | None:
        """The table's schema (API JSON form), fetched once; None when not validating."""
        if self.validate and self._schema is None:
            self._schema = self._fetch_schema()
        return self._schema

    def _fetch_schema(self) -> list[dict[str, Any]]:
        from google.api_core import exceptions as gexc

        attempt = 0
        while True:
            attempt += 1
            try:
                table = self.client.get_table(self.table, retry=None, timeout=self.request_timeout)
                return [field.to_api_repr() for field in table.schema]
            except gexc.NotFound as exc:
                raise TableMissing(
                    f"table {self.table} not found; create it with `firewatch infra apply` "
                    "(and check --project/--dataset)."
                ) from exc
            except (gexc.BadRequest, gexc.Forbidden, gexc.Unauthorized) as exc:
                if refusal_kind(exc) != "transient":
                    raise BigQueryAccessError(f"reading the schema of {self.table} refused: {exc}") from exc
                if self.max_attempts is not None and attempt >= self.max_attempts:
                    raise BigQueryWriteError(f"could not read the schema of {self.table}: {exc}") from exc
                _LOG.warning("reading the schema of %s: %s (attempt %d)", self.table, exc, attempt)
                self._sleep(attempt)
            except (gexc.GoogleAPICallError, gexc.RetryError, ConnectionError, OSError) as exc:
                if self.max_attempts is not None and attempt >= self.max_attempts:
                    raise BigQueryWriteError(f"could not read the schema of {self.table}: {exc}") from exc
                _LOG.warning("reading the schema of %s failed (attempt %d): %s", self.table, attempt, exc)
                self._sleep(attempt)

    def _split(self, rows: Sequence[Mapping[str, Any]]) -> tuple[list[tuple[dict, str | None]], list[Rejected]]:
        """(rows that fit the schema with their ids, rows that do not)."""
        good: list[tuple[dict, str | None]] = []
        bad: list[Rejected] = []
        schema = self.schema
        for index, row in enumerate(rows):
            body, row_id = split_row_id(row)
            reasons = row_problems(body, schema) if schema is not None else []
            if reasons:
                bad.append(Rejected(body, _describe(self.table, body, index, reasons), "schema_mismatch"))
            else:
                good.append((body, row_id))
        return good, bad

    def write(self, rows: Sequence[Mapping[str, Any]], batch_size: int = 500) -> int:
        """Insert all rows (validated first); return how many. Raises BigQueryWriteError."""
        good, bad = self._split(rows)
        if bad:
            raise BigQueryWriteError(
                f"{len(bad)} row(s) do not fit the schema of {self.table}; nothing was written:\n"
                + "\n".join(r.reason for r in bad[:10])
            )
        refused = self._insert_all(good, batch_size)
        if refused:
            raise BigQueryWriteError(
                f"BigQuery rejected {len(refused)} row(s) of {self.table}:\n"
                + "\n".join(r.reason for r in refused[:10])
            )
        return len(good)

    def write_or_reject(self, rows: Sequence[Mapping[str, Any]], batch_size: int = 500) -> list[Rejected]:
        """Insert every row that can be written; return the others with the reason (never raises for a
        row's fault; a missing table rejects every row). Transient failures are retried."""
        try:
            good, bad = self._split(rows)
            return bad + self._insert_all(good, batch_size)
        except TableMissing as exc:
            return [Rejected(split_row_id(row)[0], str(exc), "table_not_found") for row in rows]

    def _insert_all(self, good: list[tuple[dict, str | None]], batch_size: int) -> list[Rejected]:
        refused: list[Rejected] = []
        for chunk in chunk_rows([{"row": r, "id": i} for r, i in good], batch_size):
            refused += self._insert([item["row"] for item in chunk], [item["id"] for item in chunk])
        return refused

    def _sleep(self, attempt: int) -> None:
        delay = min(self.max_backoff, self.initial_backoff * (2 ** min(attempt - 1, 16)))
        time.sleep(delay * (0.5 + random.random() / 2))

    def _insert(self, rows: list[dict[str, Any]], ids: list[str | None]) -> list[Rejected]:
        """Insert, retrying transient failures; return the rows BigQuery refused for their own fault."""
        from google.api_core import exceptions as gexc

        pending = list(range(len(rows)))
        refused: list[Rejected] = []
        last_error = ""
        attempt = 0
        while pending and (self.max_attempts is None or attempt < self.max_attempts):
            attempt += 1
            batch = [rows[i] for i in pending]
            row_ids = [ids[i] for i in pending] if any(ids[i] is not None for i in pending) else None
            try:
                errors = self.client.insert_rows_json(
                    self.table, batch, row_ids=row_ids, retry=None, timeout=self.request_timeout
                )
            except gexc.NotFound as exc:
                raise TableMissing(f"insert into {self.table} failed: table not found ({exc.message})") from exc
            except (gexc.BadRequest, gexc.Forbidden, gexc.Unauthorized) as exc:
                kind = refusal_kind(exc)
                if kind == "access":
                    raise BigQueryAccessError(
                        f"insert into {self.table} refused ({', '.join(error_reasons(exc)) or exc.code}): {exc}. "
                        "Check the writer's role on the dataset (roles/bigquery.dataEditor) and that the "
                        "BigQuery API is enabled."
                    ) from exc
                if kind == "rows":
                    reason = f"insert into {self.table} refused: {exc}"
                    return refused + [Rejected(rows[i], reason, type(exc).__name__) for i in pending]
                last_error = f"{type(exc).__name__} ({', '.join(error_reasons(exc))}): {exc}"
                _LOG.warning("insert into %s: %s (attempt %d), backing off", self.table, last_error, attempt)
                self._sleep(attempt)
                continue
            except (gexc.GoogleAPICallError, gexc.RetryError, ConnectionError, OSError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
                limit = "" if self.max_attempts is None else f"/{self.max_attempts}"
                _LOG.warning("insert into %s failed (attempt %d%s): %s", self.table, attempt, limit, last_error)
                self._sleep(attempt)
                continue
            retry_next: list[int] = []
            for error in errors or []:
                original = pending[int(error.get("index", 0))]
                reasons = [e.get("reason", "") for e in error.get("errors", [])]
                if reasons and all(reason in TRANSIENT_REASONS for reason in reasons):
                    retry_next.append(original)
                else:
                    messages = [
                        f"{e.get('reason')}: {e.get('message')} ({e.get('location', '')})"
                        for e in error.get("errors", [])
                    ]
                    refused.append(
                        Rejected(
                            rows[original],
                            _describe(self.table, rows[original], original, messages),
                            "bigquery_rejected",
                        )
                    )
            pending = retry_next
            last_error = f"transient row errors on {len(pending)} row(s)"
            if pending:
                self._sleep(attempt)
        if pending:
            raise BigQueryWriteError(
                f"insert into {self.table} still failing after {self.max_attempts} attempts ({last_error}). "
                "The service may be down; on the BigQuery emulator an HTTP 500 can also mean a value the "
                "emulator could not convert - check the emulator log (.firewatch/logs/bigquery.log)."
            )
        return refused


def insert_rows(
    table: str,
    rows: Sequence[Mapping[str, Any]],
    batch_size: int = 500,
    client: Any | None = None,
    validate: bool = True,
) -> int:
    """Insert JSON-ready rows into `project.dataset.table`; return the count. Raises BigQueryWriteError."""
    if not rows:
        return 0
    return RowWriter(table, client=client, validate=validate).write(rows, batch_size=batch_size)
