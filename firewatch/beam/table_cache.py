"""A small BigQuery table as the running pipeline sees it: a process-wide cache, refreshed in the
background while the job runs (the cameras' exclusion masks, the regions' baselines).

A `TableSource` says where the rows are (a `project.dataset.table` read with the official client and
the source's query, or a `reader` function in tests) and how often to re-read them; `shared_cache`
gives the one `TableCache` of this worker process for it (runners may set a DoFn up for every
bundle, like the writers of `firewatch.beam.sinks`). `TableCache.current()` never waits: it returns
the last value read (the rows parsed by the source's `parse`) and, when it is older than
`refresh_seconds`, starts one background re-read. A read that fails keeps the last good value and is
counted (`failures`); the DoFns turn the counts into Beam counters, since a background thread has no
metrics context. Only the first read is waited for (in `setup`, up to `first_read_timeout`), so a job
does not score its first frames without masks or baselines that exist.

Beam's slowly-updating side input (PeriodicImpulse + AsSingleton) is the textbook alternative, but
Beam 2.77's local streaming runner (`BundleBasedDirectRunner`) refuses a graph with PeriodicImpulse
("Transform node ...GroupByKey... was not replaced as expected"). The cache runs the same on the local
runner and on Dataflow, needs no change to the graph (batch and streaming share `ScoreFrames`), and a
failed read keeps the last value instead of failing a bundle; it costs one small query per worker
process every `refresh_seconds`: a free tabledata.list for a source without SQL (the masks), a
query job for one that needs SQL (the baselines' latest computation, every 10 minutes by default).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

_LOG = logging.getLogger(__name__)
QUERY_TIMEOUT_S = 20.0

Rows = list[Mapping[str, Any]]
Reader = Callable[[], Iterable[Mapping[str, Any]]]
T = TypeVar("T")


@dataclass(frozen=True)
class TableSource:
    """Where a cached table's rows come from: `table` (project.dataset.table) queried with `sql`
    (`{table}` stands for the table), or `reader()` in tests. Hashable: it keys the process's cache."""

    table: str | None = None
    refresh_seconds: float = 30.0
    reader: Reader | None = field(default=None, compare=True)
    first_read_timeout: float = 30.0
    sql: str | None = "SELECT * FROM `{table}`"
    columns: tuple[str, ...] = ()  # with sql None: the columns tabledata.list reads (all when empty)

    def read_rows(self) -> Rows:
        if self.reader is not None:
            return list(self.reader())
        if not self.table:
            return []
        if self.sql is None:
            return list_table_rows(self.table, self.columns)
        return query_rows(self.table, self.sql.format(table=self.table))


def list_table_rows(table: str, columns: tuple[str, ...] = ()) -> Rows:
    """Every row of a small table, read with tables.get + tabledata.list: no query job, so nothing
    is billed (a query is billed at least 10 MB, and every worker process re-reads its tables)."""
    from firewatch.cloud.bigquery_rows import check_table_id
    from firewatch.cloud.clients import bigquery_client

    client = bigquery_client(check_table_id(table).split(".")[0])
    meta = client.get_table(table, timeout=QUERY_TIMEOUT_S)
    fields = [field for field in meta.schema if field.name in columns] if columns else None
    return [dict(row) for row in client.list_rows(meta, selected_fields=fields, timeout=QUERY_TIMEOUT_S)]


def query_rows(table: str, sql: str) -> Rows:
    """The rows of one query on a table's project, through the official client."""
    from firewatch.cloud.bigquery_rows import check_table_id
    from firewatch.cloud.clients import bigquery_client

    project = check_table_id(table).split(".")[0]
    job = bigquery_client(project).query(sql, timeout=QUERY_TIMEOUT_S)
    return [dict(row) for row in job.result(timeout=QUERY_TIMEOUT_S)]


class TableCache(Generic[T]):
    """The current value of one source in this process; see the module docstring.

    `parse(rows, problems)` turns the rows into the value (appending what it had to skip to
    `problems`); `describe(value)` says what a changed value holds, for the log."""

    def __init__(
        self,
        source: TableSource,
        parse: Callable[[Rows, list[str]], T],
        empty: T,
        *,
        name: str,
        describe: Callable[[T], str] = lambda value: "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._parse = parse
        self._describe = describe
        self._name = name
        self._clock = clock
        self._lock = threading.Lock()
        self._value: T = empty
        self._read_at: float | None = None  # when the last read (good or failed) finished
        self._loading: threading.Thread | None = None
        self._first = threading.Event()
        self.refreshes = 0
        self.failures = 0
        self._reported = (0, 0)
        self.last_error: str | None = None

    def current(self) -> T:
        """The last good value; starts a background re-read when it is due."""
        with self._lock:
            due = self._read_at is None or self._clock() - self._read_at >= self._source.refresh_seconds
            if due and (self._loading is None or not self._loading.is_alive()):
                self._loading = threading.Thread(target=self._refresh, name=f"firewatch-{self._name}", daemon=True)
                self._loading.start()
            return self._value

    def wait_first(self, timeout: float | None = None) -> bool:
        """Start the first read if needed and wait for it (True when it finished, good or failed)."""
        self.current()
        return self._first.wait(self._source.first_read_timeout if timeout is None else timeout)

    def refresh_now(self) -> bool:
        """Read the table in this thread; True when the read succeeded."""
        return self._refresh()

    def take_counts(self) -> tuple[int, int]:
        """(refreshes, failures) since the last call, for the caller's Beam counters."""
        with self._lock:
            done, failed = self.refreshes - self._reported[0], self.failures - self._reported[1]
            self._reported = (self.refreshes, self.failures)
            return done, failed

    def _refresh(self) -> bool:
        problems: list[str] = []
        try:
            value = self._parse(self._source.read_rows(), problems)
        except Exception as exc:  # noqa: BLE001 - any read or parse failure: keep the last good value
            with self._lock:
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                self._read_at = self._clock()
            _LOG.warning("%s: reading %s failed (keeping the last good one): %s", self._name, self._source.table, exc)
            ok = False
        else:
            for problem in problems:  # the rest of the table is unaffected
                _LOG.warning("%s: %s ignores an invalid row: %s", self._name, self._source.table, problem)
            with self._lock:
                changed = self._describe(value) != self._describe(self._value)
                self._value = value
                self.refreshes += 1
                self._read_at = self._clock()
            if changed:
                _LOG.info("%s: %s", self._name, self._describe(value) or "none")
            ok = True
        self._first.set()
        return ok


_CACHES: dict[tuple[str, TableSource], TableCache[Any]] = {}
_CACHES_LOCK = threading.Lock()


def shared_cache(name: str, source: TableSource, make: Callable[[TableSource], TableCache[T]]) -> TableCache[T]:
    """The one cache of this worker process for `source` (`make(source)` builds it the first time)."""
    with _CACHES_LOCK:
        if (name, source) not in _CACHES:
            _CACHES[(name, source)] = make(source)
        return _CACHES[(name, source)]
