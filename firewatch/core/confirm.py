"""Per-camera fire confirmation: k of the last n frames in one place, with hysteresis and cooldown.

A pure state machine (`step(state, frame, config) -> events`), wrapped by a stateful
Beam DoFn keyed by camera_id in the pipelines. Rules:

* Frames are ordered by `captured_at`: each frame waits in a reorder buffer until a frame
  `reorder_seconds` newer has arrived (a frame-time watermark), or until `flush` is called
  (the Beam wrapper does that on a timer), and is then counted in time order. A frame already
  seen (same frame key, e.g. a Pub/Sub redelivery) is ignored; a frame arriving behind the
  watermark is still counted in order when it fits the window, else it is too late to count.
* An alert OPENS when at least `k` of the last `n` frames have probability >= the open
  threshold **in the same place** (`by_place`, below), unless the camera closed an alert in that
  place less than `cooldown_seconds` before.
* While open, a frame counts as fire at the lower `close_threshold` (hysteresis), in the alert's
  place; every `update_every` fire frames an UPDATE is emitted.
* The alert CLOSES once the camera has been clear (no fire frame) for `clear_seconds` of
  frame time.
* A camera silent for `stale_seconds` (wall clock) gets `expire`: an open alert ends with a
  STALE event, and the wrapper releases the camera's state (bounded state for cameras that left).

Places (`by_place`, the default): a frame's places, and when two places are near, are defined
in `firewatch.core.places`.

* Opening: some fire box `a` of a fire frame in the window (the anchor) has at least `k` fire
  frames with a place near `a` (the anchor's frame included). Those frames open the alert, and its
  **place** is the bounding box of `a` and their places near `a`. With several such groups, the
  largest wins, then the newest anchor frame's most probable box. Fire frames elsewhere in the
  window are not part of the alert.
* While open, a fire frame counts for the alert only when one of its places is near the alert's
  place, which then grows to the bounding box of itself and those places: a spreading fire keeps
  its alert, a fire somewhere else does not keep it open.
* A camera can have several alerts open at once, one per place (at most `max_open_alerts`): fire
  elsewhere than every open alert opens its own, counted on its places away from the open alerts,
  so a false alarm that stays open (a sunlit roof all afternoon) never hides a fire elsewhere in
  the same camera. The cooldown only holds back an alert whose place is near the place of one that
  closed less than `cooldown_seconds` before.
* An alert's `peak_box` is the most probable fire box, in the alert's place, of its peak frame
  (null when that frame had no fire box: whole-frame-only predictions of older models).

With `by_place` false every fire frame counts wherever it fires (the alert's place is the whole
frame, so one alert at a time). The state stays bounded: one box per open alert and per close
within the cooldown, at most `max_open_alerts` open alerts, and at most
`RegionConfig.max_boxes` boxes per frame in the window and the reorder buffer.

Times are frame times (captured_at), so replays and batch runs give the same alerts.
"""

from __future__ import annotations

import hashlib
from bisect import insort
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from firewatch.core.alerts import AlertEvent

# Re-exported: the jobs import the config from here, and camera state pickled by earlier versions
# names firewatch.core.confirm.FrameObservation.
from firewatch.core.confirm_config import ConfirmConfig as ConfirmConfig
from firewatch.core.places import FrameObservation as FrameObservation
from firewatch.core.places import bounding, largest_group, near
from firewatch.core.regions import WHOLE_BOX, Box
from firewatch.core.reorder import admit
from firewatch.core.rows import box_record, rfc3339

OPEN, UPDATE, CLOSE, STALE = "open", "update", "close", "stale"


@dataclass
class Episode:
    alert_id: str
    first_frame_at: datetime
    last_frame_at: datetime
    last_fire_at: datetime
    fire_frames: int = 0
    probability_sum: float = 0.0
    peak_probability: float = 0.0
    peak_frame_key: str = ""
    frame_uris: list[str] = field(default_factory=list)
    # The most probable frame chosen for explanation: its overlay is the alert's evidence.
    explained_probability: float = -1.0
    explained_frame_key: str = ""
    # Where the alert is (grows with the fire; the whole frame when not confirming by place), and
    # the peak frame's most probable fire box there (None: that frame had no fire box).
    # Class-level defaults, so states pickled before these fields existed still read.
    place: Box = WHOLE_BOX
    peak_box: Box | None = None

    def add(self, obs: FrameObservation, max_uris: int, peak_box: Box | None = None) -> None:
        self.fire_frames += 1
        self.probability_sum += obs.probability
        if obs.probability > self.peak_probability:
            self.peak_probability, self.peak_frame_key = obs.probability, obs.frame_key
            self.peak_box = peak_box
        if obs.explained and obs.probability > self.explained_probability:
            self.explained_probability, self.explained_frame_key = obs.probability, obs.frame_key
        self.last_fire_at = max(self.last_fire_at, obs.captured_at)
        self.first_frame_at = min(self.first_frame_at, obs.captured_at)
        self.frame_uris = (self.frame_uris + [obs.uri or obs.frame_key])[-max_uris:]


@dataclass
class CameraState:
    window: list[FrameObservation] = field(default_factory=list)
    pending: list[FrameObservation] = field(default_factory=list)
    newest_at: datetime | None = None
    seen: deque[str] = field(default_factory=deque)
    seen_set: set[str] = field(default_factory=set)
    last_closed_at: datetime | None = None
    latest_at: datetime | None = None
    late_frames: int = 0
    duplicate_frames: int = 0
    last_closed_place: Box | None = None  # the place of the alert that closed last
    # The open alerts, oldest first, and the closes still within the cooldown (time, place).
    # Tuples with class-level defaults, so states pickled before these fields existed still read
    # (such a state's single `episode` becomes the first open alert: `open_alerts`).
    episodes: tuple[Episode, ...] = ()
    closes: tuple[tuple[datetime, Box], ...] = ()

    @property
    def episode(self) -> Episode | None:
        """The oldest open alert (None: none open)."""
        alerts = open_alerts(self)
        return alerts[0] if alerts else None


def open_alerts(state: CameraState) -> tuple[Episode, ...]:
    """The camera's open alerts, oldest first (a state saved when a camera had one alert at most
    kept it as `episode`: it is moved here the first time it is read)."""
    legacy = state.__dict__.pop("episode", None)
    if legacy is not None:
        state.episodes = (legacy, *state.episodes)
    return state.episodes


def _remember(state: CameraState, key: str, limit: int) -> None:
    state.seen.append(key)
    state.seen_set.add(key)
    while len(state.seen) > limit:
        state.seen_set.discard(state.seen.popleft())


def _alert_id(camera_id: str, first: FrameObservation) -> str:
    digest = hashlib.sha256(f"{camera_id}|{first.frame_key}".encode()).hexdigest()[:10]
    return f"{camera_id}-{first.captured_at:%Y%m%dT%H%M%SZ}-{digest}"


def step(
    state: CameraState,
    camera_id: str,
    obs: FrameObservation,
    config: ConfirmConfig,
    *,
    now: datetime,
    explanation_uri_for: Any = None,
) -> list[dict[str, Any]]:
    """Take one frame for a camera; return the alert events of the frames it lets through."""
    if obs.frame_key in state.seen_set:
        state.duplicate_frames += 1
        return []
    _remember(state, obs.frame_key, config.remember_frames)
    state.newest_at, ready = admit(state.pending, state.newest_at, obs, config.reorder_seconds)
    events: list[dict[str, Any]] = []
    for frame in ready:
        events += _count(state, camera_id, frame, config, now, explanation_uri_for)
    return events


def flush(
    state: CameraState, camera_id: str, config: ConfirmConfig, *, now: datetime, explanation_uri_for: Any = None
) -> list[dict[str, Any]]:
    """Count every frame still waiting in the reorder buffer (the camera went quiet)."""
    ready, state.pending = state.pending, []
    events: list[dict[str, Any]] = []
    for frame in ready:
        events += _count(state, camera_id, frame, config, now, explanation_uri_for)
    return events


def expire(
    state: CameraState, camera_id: str, config: ConfirmConfig, *, now: datetime, explanation_uri_for: Any = None
) -> list[dict[str, Any]]:
    """The camera went silent for `stale_seconds`: count what is waiting, then end an open alert
    with a STALE event (a silent camera in a fire is not a clear camera: it is marked, not closed
    as clear). The caller releases the camera's state afterwards."""
    events = flush(state, camera_id, config, now=now, explanation_uri_for=explanation_uri_for)
    if state.window:
        for episode in open_alerts(state):
            events.append(_event(STALE, camera_id, episode, state.window[-1], now, explanation_uri_for))
    state.episodes = ()
    return events


def _count(
    state: CameraState,
    camera_id: str,
    obs: FrameObservation,
    config: ConfirmConfig,
    now: datetime,
    explanation_uri_for: Any,
) -> list[dict[str, Any]]:
    """Count one frame, in time order, against the window and the open alerts."""
    if len(state.window) >= config.n and obs < state.window[0]:
        state.late_frames += 1
        return []
    insort(state.window, obs)
    del state.window[: max(0, len(state.window) - config.n)]
    state.latest_at = max(state.latest_at or obs.captured_at, obs.captured_at)

    open_threshold = config.open_threshold if config.open_threshold is not None else obs.threshold
    close_threshold = open_threshold * config.close_ratio
    events: list[dict[str, Any]] = []
    still_open: list[Episode] = []
    # The open alerts take the frame where it fires in their places, then close once clear.
    for episode in open_alerts(state):
        episode.last_frame_at = state.latest_at
        in_place = (
            _places_near(obs, close_threshold, episode.place, config) if obs.probability >= close_threshold else []
        )
        if in_place:
            if config.by_place:
                episode.place = bounding([episode.place, *in_place])  # follows a spreading fire
            episode.add(obs, config.max_frame_uris, _peak_box(obs, close_threshold, episode.place, config))
            if episode.fire_frames % config.update_every == 0:
                events.append(_event(UPDATE, camera_id, episode, obs, now, explanation_uri_for))
        if (state.latest_at - episode.last_fire_at).total_seconds() >= config.clear_seconds:
            events.append(_event(CLOSE, camera_id, episode, obs, now, explanation_uri_for))
            state.last_closed_at, state.last_closed_place = state.latest_at, episode.place
            state.closes = (*state.closes, (state.latest_at, episode.place))
        else:
            still_open.append(episode)
    state.closes = tuple(c for c in state.closes if _within(c[0], obs, config.cooldown_seconds))
    # Fire away from every open alert can open another (with one place, the whole frame: one at a
    # time); not in the frame that closed one, whose fire frames are still in the window.
    closed_now = len(still_open) < len(open_alerts(state))
    if not closed_now and len(still_open) < (config.max_open_alerts if config.by_place else 1):
        opened = _open_alert(state, camera_id, obs, open_threshold, [e.place for e in still_open], config)
        if opened is not None:
            still_open.append(opened)
            events.append(_event(OPEN, camera_id, opened, obs, now, explanation_uri_for))
    state.episodes = tuple(still_open)
    return events


def _within(moment: datetime, obs: FrameObservation, seconds: float) -> bool:
    return (obs.captured_at - moment).total_seconds() < seconds


def _open_alert(
    state: CameraState,
    camera_id: str,
    obs: FrameObservation,
    threshold: float,
    taken: list[Box],
    config: ConfirmConfig,
) -> Episode | None:
    """A new alert when at least k fire frames of the window fire in one place away from the open
    alerts' places (`taken`) and no alert closed near there within the cooldown; else None."""
    fire = [f for f in state.window if f.probability >= threshold]
    if len(fire) < config.k:
        return None
    group, place = largest_group(fire, threshold, config, taken)
    if len(group) < config.k:
        return None
    closes = list(state.closes)
    if not closes and state.last_closed_at is not None:  # a state saved before `closes` existed
        closes = [(state.last_closed_at, state.last_closed_place or WHOLE_BOX)]
    if any(
        _within(at, obs, config.cooldown_seconds) and near(place, where, config.place_margin) for at, where in closes
    ):
        return None
    first = group[0]
    episode = Episode(
        alert_id=_alert_id(camera_id, first),
        first_frame_at=first.captured_at,
        last_frame_at=state.latest_at,
        last_fire_at=first.captured_at,
        place=place,
    )
    for f in group:
        episode.add(f, config.max_frame_uris, _peak_box(f, threshold, place, config))
    return episode


def _places_near(obs: FrameObservation, threshold: float, place: Box, config: ConfirmConfig) -> list[Box]:
    """The frame's places at `threshold` near `place` (all of them when not confirming by place)."""
    places = obs.places(threshold)
    return list(places) if not config.by_place else [b for b in places if near(b, place, config.place_margin)]


def _peak_box(obs: FrameObservation, threshold: float, place: Box, config: ConfirmConfig) -> Box | None:
    return obs.best_box(threshold, place if config.by_place else None, config.place_margin)


def _event(
    kind: str,
    camera_id: str,
    episode: Episode,
    obs: FrameObservation,
    now: datetime,
    explanation_uri_for: Any,
) -> dict[str, Any]:
    """An alert event as an alerts-table row (also the JSON body published to the alert topic),
    built and checked by its type (`firewatch.core.alerts.AlertEvent`)."""
    # The overlay of the most probable explained frame (the peak itself when it was explained, which
    # batch and an explain-every-frame policy guarantee); none when no frame of the episode was.
    explained = episode.explained_frame_key
    explanation_uri = explanation_uri_for(explained, obs.model_version) if explanation_uri_for and explained else None
    return AlertEvent(
        alert_id=episode.alert_id,
        camera_id=camera_id,
        event=kind,
        event_time=rfc3339(now),
        first_frame_at=rfc3339(episode.first_frame_at),
        last_frame_at=rfc3339(episode.last_frame_at),
        fire_frames=episode.fire_frames,
        peak_probability=round(episode.peak_probability, 6),
        mean_probability=round(episode.probability_sum / max(episode.fire_frames, 1), 6),
        frame_uris=tuple(episode.frame_uris),
        peak_frame_key=episode.peak_frame_key,
        explanation_uri=explanation_uri,
        model_version=obs.model_version,
        peak_box=None if episode.peak_box is None else box_record(episode.peak_box),
    ).row()
