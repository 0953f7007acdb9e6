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

Places (`by_place`, the default). A frame's **places** at a threshold are its fire boxes
(`Prediction.boxes`, fractions of the frame) whose probability reaches it; a frame without such a
box that still counts as fire (a model or run that scores the whole frame only, or a frame counted
at the lower close threshold) is placed at its `peak_box`, the whole frame when it has no regions.
Two boxes are **near** when they intersect, or touch, once each is grown by `place_margin` of the
frame on every side (for x in frame widths, for y in frame heights): their gaps along x and along
y are both at most 2 * place_margin. Two frames fire in the same place when a place of one is near
a place of the other; the whole frame is near everything, so whole-frame frames confirm as before.

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
import json
from bisect import insort
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from firewatch.core.prediction import Prediction
from firewatch.core.regions import WHOLE_BOX, Box, FireBox
from firewatch.core.reorder import admit
from firewatch.core.rows import box_record, rfc3339

OPEN, UPDATE, CLOSE, STALE = "open", "update", "close", "stale"


class ConfirmConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    k: int = Field(3, ge=1, description="fire frames needed among the last n")
    n: int = Field(5, ge=1, description="window length in frames")
    open_threshold: float | None = Field(
        None, ge=0, le=1, description="probability that counts as fire; default: the model's threshold"
    )
    close_ratio: float = Field(0.75, gt=0, le=1, description="while open, fire counts at open_threshold * close_ratio")
    clear_seconds: float = Field(30.0, gt=0, description="clear time (frame time) that closes an alert")
    cooldown_seconds: float = Field(60.0, ge=0, description="no re-open this soon after a close")
    update_every: int = Field(5, ge=1, description="emit an update every this many fire frames")
    reorder_seconds: float = Field(
        5.0, ge=0, description="frame-time wait for out-of-order frames before they are counted"
    )
    flush_after_seconds: float = Field(
        10.0, gt=0, description="wall-clock time after which frames still waiting are counted anyway"
    )
    stale_seconds: float = Field(
        300.0,
        gt=0,
        description="wall-clock silence after which a camera's open alert ends with a 'stale' event "
        "and the camera's state is released",
    )
    max_frame_uris: int = Field(20, ge=1)
    by_place: bool = Field(
        True,
        description="an alert needs its k of n fire frames in one place (fire boxes near one another); "
        "false: anywhere in the frame",
    )
    place_margin: float = Field(
        0.05,
        ge=0,
        le=0.5,
        description="fire boxes are in the same place when they intersect after growing each by this "
        "share of the frame on every side",
    )
    remember_frames: int = Field(2000, ge=1, description="frame keys remembered for de-duplication")
    max_open_alerts: int = Field(
        4, ge=1, le=64, description="alerts a camera can have open at once, in different places (by_place)"
    )

    @model_validator(mode="after")
    def _k_le_n(self) -> ConfirmConfig:
        if self.k > self.n:
            raise ValueError(f"k ({self.k}) cannot exceed n ({self.n})")
        return self


@dataclass(frozen=True, order=True)
class FrameObservation:
    captured_at: datetime
    frame_key: str
    probability: float
    threshold: float
    model_version: str
    uri: str | None = None
    explained: bool = False  # chosen for explanation when scored (its overlay will exist)
    # where it fired: the frame's fire boxes, most probable first, and the region of its maximum
    boxes: tuple[FireBox, ...] = field(default=(), compare=False)
    peak_box: Box = field(default=WHOLE_BOX, compare=False)

    @classmethod
    def of(cls, prediction: Prediction) -> FrameObservation:
        return cls(
            captured_at=prediction.event_time,
            frame_key=prediction.frame_key,
            probability=prediction.probability,
            threshold=prediction.threshold,
            model_version=prediction.model_version,
            uri=prediction.source_uri,
            explained=prediction.explain,
            boxes=tuple(prediction.boxes),
            peak_box=tuple(prediction.peak_box),
        )

    def places(self, threshold: float) -> tuple[Box, ...]:
        """Where the frame fires at `threshold`: its fire boxes that reach it, most probable first;
        else its peak box (the whole frame for a prediction without regions)."""
        return tuple(b.box for b in self.boxes if b.probability >= threshold) or (self.peak_box,)

    def best_box(self, threshold: float, place: Box | None, margin: float) -> Box | None:
        """The most probable fire box reaching `threshold` (near `place` when given); None when the
        frame has no fire box there (a whole-frame-only prediction)."""
        for b in self.boxes:
            if b.probability >= threshold and (place is None or near(b.box, place, margin)):
                return b.box
        return None if self.peak_box == WHOLE_BOX else self.peak_box


def near(a: Box, b: Box, margin: float) -> bool:
    """Whether two boxes intersect or touch once each is grown by `margin` on every side."""
    reach = 2.0 * margin
    return a[0] - reach <= b[2] and b[0] - reach <= a[2] and a[1] - reach <= b[3] and b[1] - reach <= a[3]


def bounding(boxes: list[Box] | tuple[Box, ...]) -> Box:
    """The smallest box holding all of `boxes`."""
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


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
    group, place = _largest_group(fire, threshold, config, taken)
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


def _largest_group(
    fire: list[FrameObservation], threshold: float, config: ConfirmConfig, taken: list[Box] | None = None
) -> tuple[list[FrameObservation], Box]:
    """The fire frames that open an alert, in time order, and their place.

    By place: for each anchor (a place of a fire frame, newest frame first, most probable box
    first), the fire frames with a place near it; the largest such group, the first anchor among
    equals. Its place: the bounding box of the anchor and the group's places near it. Places near
    an open alert's place (`taken`) are that alert's, not candidates. Not by place: every fire
    frame, and the whole frame."""
    if not config.by_place:
        return list(fire), WHOLE_BOX
    taken = taken or []
    places = {
        f.frame_key: [b for b in f.places(threshold) if not any(near(b, t, config.place_margin) for t in taken)]
        for f in fire
    }
    best: list[FrameObservation] = []
    best_place: Box = WHOLE_BOX
    for anchor_frame in reversed(fire):
        for anchor in places[anchor_frame.frame_key]:
            group, boxes = [], [anchor]
            for f in fire:
                matching = [b for b in places[f.frame_key] if near(b, anchor, config.place_margin)]
                if matching:
                    group.append(f)
                    boxes += matching
            if len(group) > len(best):
                best, best_place = group, bounding(boxes)
    return best, best_place


def _event(
    kind: str,
    camera_id: str,
    episode: Episode,
    obs: FrameObservation,
    now: datetime,
    explanation_uri_for: Any,
) -> dict[str, Any]:
    """An alert event as an alerts-table row (also the JSON body published to the alert topic)."""
    # The overlay of the most probable explained frame (the peak itself when it was explained, which
    # batch and an explain-every-frame policy guarantee); none when no frame of the episode was.
    explained = episode.explained_frame_key
    explanation_uri = explanation_uri_for(explained, obs.model_version) if explanation_uri_for and explained else None
    return {
        "alert_id": episode.alert_id,
        "camera_id": camera_id,
        "event": kind,
        "event_time": rfc3339(now),
        "first_frame_at": rfc3339(episode.first_frame_at),
        "last_frame_at": rfc3339(episode.last_frame_at),
        "fire_frames": episode.fire_frames,
        "peak_probability": round(episode.peak_probability, 6),
        "mean_probability": round(episode.probability_sum / max(episode.fire_frames, 1), 6),
        "frame_uris": list(episode.frame_uris),
        "peak_frame_key": episode.peak_frame_key,
        "explanation_uri": explanation_uri,
        "model_version": obs.model_version,
        "peak_box": None if episode.peak_box is None else box_record(episode.peak_box),
    }


def alert_message_parts(event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """An alert event as the alert topic's message: the JSON event as data, with `camera_id`,
    `event` and `alert_id` attributes for subscription filters (pipeline and edge alike)."""
    attributes = {"camera_id": event["camera_id"], "event": event["event"], "alert_id": event["alert_id"]}
    return json.dumps(event, sort_keys=True).encode("utf-8"), attributes
