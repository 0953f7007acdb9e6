"""Alerts per hour on a clear camera: model scores of real non-fire frames replayed through confirmation.

A false-alarm rate per tile is not what an operator sees: the pipeline opens an alert only
when k of the last n frames of a camera reach the threshold (`firewatch.core.confirm`). This
module replays a camera's frame scores through that same pure state machine (`step`, then
`flush` at the end; no copy of its rules) and counts the alerts it opens.

`clear_camera_alerts` simulates a camera at `fps` whose every frame is an independent draw
from the scores of real non-fire tiles (a busy or moving view: each second shows a different
real scene). A fixed camera looking at one scene that the model scores above the threshold
would instead open one alert and keep it open: the per-tile rate counts those scenes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from firewatch.core.confirm import OPEN, CameraState, ConfirmConfig, FrameObservation, flush, step

START = datetime(2026, 1, 1, tzinfo=UTC)


def replay(probabilities: Sequence[float], threshold: float, fps: float = 1.0, config: ConfirmConfig | None = None):
    """Feed one camera's frame scores, in order at `fps`, through confirmation; return its events."""
    config = config or ConfirmConfig()
    state, events = CameraState(), []
    at = START
    for i, p in enumerate(probabilities):
        at = START + timedelta(seconds=i / fps)
        obs = FrameObservation(at, f"f{i}", float(p), threshold, "replay")
        events += step(state, "clear-camera", obs, config, now=at)
    events += flush(state, "clear-camera", config, now=at)
    return events


def clear_camera_alerts(
    probabilities: Sequence[float],
    threshold: float,
    *,
    hours: float = 10.0,
    fps: float = 1.0,
    seed: int = 0,
    config: ConfirmConfig | None = None,
) -> dict:
    """Alerts opened per hour when every frame is a random draw from `probabilities` (real non-fire tiles)."""
    config = config or ConfirmConfig()
    frames = int(hours * 3600 * fps)
    draws = np.random.default_rng(seed).choice(np.asarray(probabilities, np.float64), size=frames)
    events = replay(draws, threshold, fps, config)
    opens = sum(1 for e in events if e["event"] == OPEN)
    return {
        "fps": fps,
        "hours": hours,
        "frames": frames,
        "frames_at_threshold": int((draws >= threshold).sum()),
        "alerts_opened": opens,
        "alerts_per_hour": opens / hours,
        "confirmation": {"k": config.k, "n": config.n, "close_ratio": config.close_ratio},
        "model": "each frame an independent random real non-fire tile (seeded)",
    }
