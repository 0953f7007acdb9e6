"""Which fire frames are explained: the ones that matter, at a bounded rate per camera.

Explaining a frame (Integrated Gradients + XRAI) costs about a second of CPU, scoring it a few
milliseconds: explaining every fire frame lets one burning camera throttle every camera. A fire
frame of a camera is explained when it is

* `episode_start`: the first fire frame after `min_interval_seconds` without one (the frame
  that opens what confirmation will turn into an alert),
* `new_peak`: at least `peak_margin` more probable than every frame explained since the episode
  started (so the alert carries the overlay of a frame within `peak_margin` of its peak; a camera
  whose scores creep up by thousandths, as a saturated model's do, is not explained at every
  record: at most about (1 - threshold) / peak_margin peaks per episode),
* `interval`: at least `min_interval_seconds` after the camera's last explained frame, in frame
  time and in wall-clock time (`now`), so a backlog that arrives at once (a burst, a restart) is
  not explained once per interval of its frame time while every camera's rows wait;

otherwise it is `rate_limited`: a recorded decision (the caller counts it), never a silent drop.
`min_interval_seconds = 0` explains every fire frame (the behaviour before this policy).

Pure and deterministic for a given order of frames. `decide_camera(state, ...)` decides for one
camera from its state (`CameraExplainState`, None for a camera not seen): the streaming job keeps
that state in Beam's keyed state, keyed by camera (`firewatch.beam.postprocess.GateExplanations`), so
the rate holds per camera however many worker processes score its frames. `ExplainPolicy` keeps
the states of many cameras in one process (bounded: `max_cameras`, least recently seen forgotten
first), for callers without a runner.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

EPISODE_START, NEW_PEAK, INTERVAL, RATE_LIMITED = "episode_start", "new_peak", "interval", "rate_limited"


@dataclass
class CameraExplainState:
    """What the policy remembers of one camera (small: it lives in keyed state)."""

    last_fire: datetime
    last_explained: datetime | None = None
    last_explained_wall: float | None = None
    peak: float = -1.0


def decide_camera(
    state: CameraExplainState | None,
    frame_time: datetime,
    probability: float,
    now: float | None,
    *,
    min_interval_seconds: float,
    peak_margin: float = 0.0,
) -> tuple[CameraExplainState, bool, str]:
    """One camera's fire frame -> (its new state, explain?, reason); see the module docstring.
    `now`: wall-clock seconds, comparable wherever the state is read next (time.time() when the
    state moves between processes); None compares frame time only."""
    reason = _reason(state, frame_time, probability, now, min_interval_seconds, peak_margin)
    if state is None or reason == EPISODE_START:
        state = CameraExplainState(last_fire=frame_time)
    state.last_fire = max(state.last_fire, frame_time)
    if reason != RATE_LIMITED:
        state.last_explained = max(filter(None, (state.last_explained, frame_time)))
        state.last_explained_wall = now
        state.peak = max(state.peak, probability)
    return state, reason != RATE_LIMITED, reason


def _reason(
    state: CameraExplainState | None,
    frame_time: datetime,
    probability: float,
    now: float | None,
    min_interval: float,
    peak_margin: float,
) -> str:
    if min_interval <= 0:
        return INTERVAL
    if state is None or (frame_time - state.last_fire).total_seconds() > min_interval:
        return EPISODE_START
    if probability > state.peak + peak_margin:
        return NEW_PEAK
    if state.last_explained is not None and (frame_time - state.last_explained).total_seconds() < min_interval:
        return RATE_LIMITED
    if now is not None and state.last_explained_wall is not None and now - state.last_explained_wall < min_interval:
        return RATE_LIMITED
    return INTERVAL


class ExplainPolicy:
    """`decide(camera, frame_time, probability)` for a fire frame -> (explain, reason)."""

    def __init__(self, min_interval_seconds: float, max_cameras: int = 100_000, peak_margin: float = 0.0) -> None:
        if min_interval_seconds < 0:
            raise ValueError(f"min_interval_seconds must be >= 0, got {min_interval_seconds}")
        if not 0 <= peak_margin < 1:
            raise ValueError(f"peak_margin must be in [0, 1), got {peak_margin}")
        self.min_interval = min_interval_seconds
        self.peak_margin = peak_margin
        self.max_cameras = max_cameras
        self._cameras: OrderedDict[str, CameraExplainState] = OrderedDict()
        self._lock = threading.Lock()

    def decide(
        self, camera: str, frame_time: datetime, probability: float, now: float | None = None
    ) -> tuple[bool, str]:
        """`now`: wall-clock seconds (time.monotonic()); None compares frame time only."""
        if self.min_interval <= 0:
            return True, INTERVAL
        with self._lock:
            state, explain, reason = decide_camera(
                self._cameras.pop(camera, None),
                frame_time,
                probability,
                now,
                min_interval_seconds=self.min_interval,
                peak_margin=self.peak_margin,
            )
            self._cameras[camera] = state
            while len(self._cameras) > self.max_cameras:
                self._cameras.popitem(last=False)
        return explain, reason
