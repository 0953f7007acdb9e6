"""The regions' baselines as the running pipeline sees them: the `region_baselines` table in a
process-wide cache refreshed in the background (`firewatch.beam.table_cache`), read by the scoring
step to raise each region's threshold (`firewatch.core.baselines`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from firewatch.beam.table_cache import Rows, TableCache, TableSource, shared_cache
from firewatch.core.baselines import CameraBaselines, latest_baselines

NAMESPACE = "firewatch.baselines"
# Only the latest computation is read (each `firewatch baselines update` appends a whole new one).
BASELINES_SQL = (
    "SELECT camera_id, model_version, hour, region, max_probability, computed_at FROM `{table}` "
    "WHERE computed_at = (SELECT MAX(computed_at) FROM `{table}`)"
)


@dataclass(frozen=True)
class BaselineSource(TableSource):
    """Where a job's baselines come from: `table` (project.dataset.table) or `reader()` (tests)."""

    refresh_seconds: float = 600.0
    sql: str = BASELINES_SQL


def _parse(rows: Rows, problems: list[str]) -> dict[str, CameraBaselines]:
    return latest_baselines(rows)


def _size(baselines: dict[str, CameraBaselines]) -> str:
    return ", ".join(f"{camera} {len(keys)} region-hours" for camera, keys in sorted(baselines.items()))


class BaselineCache(TableCache[dict[str, CameraBaselines]]):
    """camera -> {(model_version, hour, region): max probability} of one source in this process."""

    def __init__(self, source: TableSource, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(source, _parse, {}, name="baselines", describe=_size, clock=clock)


def shared_baselines(source: TableSource) -> BaselineCache:
    """The one baselines cache of this worker process for `source`."""
    return shared_cache("baselines", source, BaselineCache)  # type: ignore[return-value]
