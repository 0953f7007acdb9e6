"""The frame-time reorder buffer that per-camera state machines share (confirmation, camera health).

A frame waits, in capture order, until a frame `reorder_seconds` newer has arrived (a frame-time
watermark); `admit` inserts one and returns the newest frame time and the frames now released, oldest
first. The callers keep the buffer (`pending`) and the newest time in their own pickled state; the
wrappers' timers flush what is still waiting when a camera goes quiet.
"""

from __future__ import annotations

from bisect import insort
from datetime import datetime
from typing import Any


def admit(
    pending: list[Any], newest_at: datetime | None, obs: Any, reorder_seconds: float
) -> tuple[datetime, list[Any]]:
    """Insert `obs` (ordered by `captured_at` first) into `pending`; return (the newest frame time,
    the frames at or behind the watermark, removed from `pending`)."""
    newest = max(newest_at or obs.captured_at, obs.captured_at)
    insort(pending, obs)
    watermark = newest.timestamp() - reorder_seconds
    ready = [f for f in pending if f.captured_at.timestamp() <= watermark]
    del pending[: len(ready)]
    return newest, ready
