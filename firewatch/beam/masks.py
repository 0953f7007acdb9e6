"""The operators' exclusion masks as the running pipeline sees them: the masks table in a
process-wide cache refreshed in the background (`firewatch.beam.table_cache`).

`MaskSource` says where the masks are (a `project.dataset.masks` table, or a `reader` function in
tests) and how often to re-read them; `shared_masks(source)` gives the one `MaskCache` of this
worker process for it. `MaskCache.current()` never waits: it returns the last masks read (camera ->
its latest valid `CameraMask`, `firewatch.core.masks.latest_masks`); a read that fails keeps the last
good masks and is counted, and the scoring DoFn turns the counts into Beam counters
(`firewatch.masks/refresh_failures`, `refreshes`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from firewatch.beam.table_cache import Reader, Rows, TableCache, TableSource, list_table_rows, shared_cache
from firewatch.core.masks import CameraMask, latest_masks

NAMESPACE = "firewatch.masks"
MASK_COLUMNS = ("camera_id", "mask_version", "rectangles", "created_at")

__all__ = ["MASK_COLUMNS", "NAMESPACE", "MaskCache", "MaskSource", "Reader", "read_mask_rows", "shared_masks"]


@dataclass(frozen=True)
class MaskSource(TableSource):
    """Where a job's masks come from: `table` (project.dataset.table) or `reader()` (tests). The
    table is read with tabledata.list, not a query: every worker process re-reads it every
    `refresh_seconds`, and a query job each time would be billed at least 10 MB."""

    sql: str | None = None
    columns: tuple[str, ...] = MASK_COLUMNS


def read_mask_rows(table: str) -> Rows:
    """Every row of the masks table (small: one row per saved mask), through the official client."""
    return list_table_rows(table, MASK_COLUMNS)


def _versions(masks: dict[str, CameraMask]) -> str:
    return ", ".join(f"{c} v{m.version}" for c, m in sorted(masks.items()))


class MaskCache(TableCache[dict[str, CameraMask]]):
    """The current masks of one source in this process (camera_id -> mask)."""

    def __init__(self, source: TableSource, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(source, latest_masks, {}, name="masks", describe=_versions, clock=clock)


def shared_masks(source: TableSource) -> MaskCache:
    """The one mask cache of this worker process for `source`."""
    return shared_cache("masks", source, MaskCache)  # type: ignore[return-value]
