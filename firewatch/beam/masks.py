"""The operators' exclusion masks as the running pipeline sees them: a process-wide cache of the
masks table, refreshed in the background while the job runs.

`MaskSource` says where the masks are (a `project.dataset.masks` table, or a `reader` function in
tests) and how often to re-read them; `shared_masks(source)` gives the one `MaskCache` of this
worker process for it (runners may set a DoFn up for every bundle, like the writers of
`firewatch.beam.sinks`). `MaskCache.current()` never waits: it returns the last masks read and,
when they are older than `refresh_seconds`, starts one background re-read. A read that fails keeps
the last good masks and is counted (`failures`); the scoring DoFn turns the counts into Beam counters
(`firewatch.masks/refresh_failures`, `refreshes`), since a background thread has no metrics context.
Only the first read is waited for (in `setup`, up to `first_read_timeout`), so a job does not score
its first frames without masks that exist.

Beam's slowly-updating side input (PeriodicImpulse + AsSingleton) is the textbook alternative, but
Beam 2.77's local streaming runner (`BundleBasedDirectRunner`) refuses a graph with PeriodicImpulse
("Transform node ...GroupByKey... was not replaced as expected"). The cache runs the same on the local
runner and on Dataflow, needs no change to the graph (batch and streaming share `ScoreFrames`), and a
failed read keeps the last masks instead of failing a bundle; it costs one small query per worker
process every `refresh_seconds`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from firewatch.core.masks import CameraMask, latest_masks

_LOG = logging.getLogger(__name__)
NAMESPACE = "firewatch.masks"
QUERY_TIMEOUT_S = 20.0

Reader = Callable[[], Iterable[Mapping[str, Any]]]


@dataclass(frozen=True)
class MaskSource:
    """Where a job's masks come from: `table` (project.dataset.table) read with the BigQuery client,
    or `reader()` (tests: any function returning masks-table rows). Hashable: it keys the cache."""

    table: str | None = None
    refresh_seconds: float = 30.0
    reader: Reader | None = field(default=None, compare=True)
    first_read_timeout: float = 30.0

    def read_rows(self) -> list[Mapping[str, Any]]:
        if self.reader is not None:
            return list(self.reader())
        if not self.table:
            return []
        return read_mask_rows(self.table)


def read_mask_rows(table: str) -> list[dict[str, Any]]:
    """Every row of the masks table (small: one row per saved mask), through the official client."""
    from firewatch.cloud.bigquery_rows import check_table_id
    from firewatch.cloud.clients import bigquery_client

    project = check_table_id(table).split(".")[0]
    sql = f"SELECT camera_id, mask_version, rectangles, created_at FROM `{table}`"
    job = bigquery_client(project).query(sql, timeout=QUERY_TIMEOUT_S)
    return [dict(row) for row in job.result(timeout=QUERY_TIMEOUT_S)]


class MaskCache:
    """The current masks of one source in this process; see the module docstring."""

    def __init__(self, source: MaskSource, clock: Callable[[], float] = time.monotonic) -> None:
        self._source = source
        self._clock = clock
        self._lock = threading.Lock()
        self._masks: dict[str, CameraMask] = {}
        self._read_at: float | None = None  # when the last read (good or failed) finished
        self._loading: threading.Thread | None = None
        self._first = threading.Event()
        self.refreshes = 0
        self.failures = 0
        self._reported = (0, 0)
        self.last_error: str | None = None

    def current(self) -> dict[str, CameraMask]:
        """The last good masks (camera_id -> mask); starts a background re-read when they are due."""
        with self._lock:
            due = self._read_at is None or self._clock() - self._read_at >= self._source.refresh_seconds
            if due and (self._loading is None or not self._loading.is_alive()):
                self._loading = threading.Thread(target=self._refresh, name="firewatch-masks", daemon=True)
                self._loading.start()
            return self._masks

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
            masks = latest_masks(self._source.read_rows(), problems)
        except Exception as exc:  # noqa: BLE001 - any read or parse failure: keep the last good masks
            with self._lock:
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                self._read_at = self._clock()
            _LOG.warning("masks: reading %s failed (keeping the last good masks): %s", self._source.table, exc)
            ok = False
        else:
            for problem in problems:  # those cameras keep their latest valid mask; the others are unaffected
                _LOG.warning("masks: %s ignores an invalid row: %s", self._source.table, problem)
            with self._lock:
                changed = {c: m.version for c, m in masks.items()} != {c: m.version for c, m in self._masks.items()}
                self._masks = masks
                self.refreshes += 1
                self._read_at = self._clock()
            if changed:
                _LOG.info("masks: %s", ", ".join(f"{c} v{m.version}" for c, m in sorted(masks.items())) or "none")
            ok = True
        self._first.set()
        return ok


_CACHES: dict[MaskSource, MaskCache] = {}
_CACHES_LOCK = threading.Lock()


def shared_masks(source: MaskSource) -> MaskCache:
    """The one cache of this worker process for `source`."""
    with _CACHES_LOCK:
        if source not in _CACHES:
            _CACHES[source] = MaskCache(source)
        return _CACHES[source]
