"""Camera health from the frames themselves: a pure per-camera state machine.

`step(state, camera_id, obs, config, now=...) -> events` takes one frame's statistics
(`firewatch.core.frame_stats`, computed at decode) and its day/night period; the streaming job
keeps one `CameraHealth` per camera in Beam keyed state (`firewatch.beam.health`). States:

* `frozen`: the same or nearly the same picture (thumbnails at most `frozen_difference` gray
  levels apart, frame to frame) for `frozen_minutes` of frame time: a stuck encoder, a cached
  snapshot. A live camera's sensor noise alone keeps consecutive thumbnails further apart.
* `blind`: black, white, uniform or very low contrast (contrast below `blind_contrast` and detail
  below `blind_detail`), or washed out (brightness at least `blind_brightness`), for
  `blind_minutes`: a covered lens, a night without infrared, glare, fog on the lens.
* `moved`: on day frames, the scene is far from a slowly-updated reference thumbnail (scene
  distance, 1 - correlation, above `moved_distance`) for `moved_minutes`: the camera was turned or
  knocked, and its masks and baselines may no longer fit. The reference follows slow changes
  (an exponential average with a `reference_minutes` time constant) and is held while the scene
  differs; after `moved_accept_minutes` in `moved` the new view becomes the reference (healthy).
* `night`: dark frames (the row's period is night) that still carry detail: reported, not blind.
* `stale`: no frame for the confirmation's `stale_seconds` of wall-clock time (`expire`, called by
  the wrapper's timer): the streaks start again when frames return.
* `healthy`: none of the above; a camera's first frame makes it healthy without an event.

Frames are counted in frame-time order: each waits in a reorder buffer until a frame
`reorder_seconds` newer has arrived, or until `flush` (the wrapper's wall-clock timer, when the
camera goes quiet; `expire` flushes too); a frame not newer than the last one counted (a
redelivery, a frame later than the buffer allows) is not counted.

Precedence when several hold: blind, frozen, moved, night (a black camera sending the same black
frame is blind, not frozen). Exactly one event per change of state: a camera-health-table row,
also published on the alerts topic (`health_message_parts`). Times are frame times (captured_at),
so replays give the same events.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from firewatch.core.frame_stats import NIGHT, FrameStats, scene_distance, thumbnail_difference
from firewatch.core.reorder import admit
from firewatch.core.rows import rfc3339

HEALTHY, FROZEN, BLIND, MOVED, NIGHT_STATE, STALE = "healthy", "frozen", "blind", "moved", "night", "stale"
HEALTH_EVENT = "camera_health"  # the `event` attribute of camera-health messages on the alerts topic


class HealthConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    enabled: bool = Field(True, description="judge each camera's health from its frames (frozen, blind, moved, night)")
    frozen_minutes: float = Field(
        3.0, gt=0, description="minutes (frame time) of the same picture that make a camera frozen"
    )
    frozen_difference: float = Field(
        0.5,
        ge=0,
        description="frames whose thumbnails differ by at most this mean of gray levels (0-255) are the same picture",
    )
    blind_minutes: float = Field(3.0, gt=0, description="frame-time minutes of blind frames that make a camera blind")
    blind_contrast: float = Field(
        0.02, ge=0, le=1, description="a frame below this contrast (gray std, 0-1) and blind-detail is blind"
    )
    blind_detail: float = Field(
        0.01, ge=0, le=1, description="a frame below this detail (mean gradient, 0-1) and blind-contrast is blind"
    )
    blind_brightness: float = Field(
        0.97, gt=0, le=1, description="a frame at least this bright (0-1) is washed out: blind"
    )
    night_minutes: float = Field(1.0, gt=0, description="frame-time minutes of dark frames with detail before night")
    moved_minutes: float = Field(3.0, gt=0, description="minutes (frame time) of a changed scene: moved")
    moved_distance: float = Field(
        0.5,
        gt=0,
        le=2,
        description="scene distance (1 - thumbnail correlation) from the reference: a change",
    )
    reference_minutes: float = Field(
        30.0, gt=0, description="time constant (frame-time minutes) of the slowly-updated reference scene"
    )
    moved_accept_minutes: float = Field(
        60.0, gt=0, description="after this long moved, the new view becomes the reference and the camera healthy"
    )
    reorder_seconds: float = Field(
        10.0,
        ge=0,
        description="frame-time wait for out-of-order frames before a frame is counted (the waiting frames "
        "are kept in the camera's state: a few KB each)",
    )


@dataclass(frozen=True, order=True)
class HealthObservation:
    captured_at: datetime
    frame_key: str
    period: str = field(compare=False)
    stats: FrameStats = field(compare=False)


@dataclass
class CameraHealth:
    state: str = HEALTHY
    since: datetime | None = None  # when the current state began (frame time)
    last_at: datetime | None = None  # the newest frame counted
    last_thumbnail: tuple[float, ...] | None = None
    reference: tuple[float, ...] | None = None
    reference_at: datetime | None = None
    # Since when each condition has held without a break (None: it does not hold now).
    same_since: datetime | None = None
    blind_since: datetime | None = None
    night_since: datetime | None = None
    moved_since: datetime | None = None
    pending: list[HealthObservation] = field(default_factory=list)  # the reorder buffer, oldest first
    newest_at: datetime | None = None  # the newest frame time seen (the buffer's watermark)


def is_blind(stats: FrameStats, config: HealthConfig) -> bool:
    """Black, white, uniform or very low contrast without detail, or washed out."""
    flat = stats.contrast < config.blind_contrast and stats.detail < config.blind_detail
    return flat or stats.brightness >= config.blind_brightness


def _held(since: datetime | None, at: datetime, minutes: float) -> bool:
    return since is not None and (at - since).total_seconds() >= minutes * 60.0


def step(
    state: CameraHealth, camera_id: str, obs: HealthObservation, config: HealthConfig, *, now: datetime
) -> list[dict[str, Any]]:
    """Take one frame; the camera-health events of the frames it lets out of the reorder buffer."""
    if state.last_at is not None and obs.captured_at <= state.last_at:
        return []  # a redelivery or a frame too late: health counts frames in time order
    if any(p.frame_key == obs.frame_key or p.captured_at == obs.captured_at for p in state.pending):
        return []  # already waiting (a redelivery)
    state.newest_at, ready = admit(state.pending, state.newest_at, obs, config.reorder_seconds)
    return [event for frame in ready for event in _count(state, camera_id, frame, config, now)]


def flush(state: CameraHealth, camera_id: str, config: HealthConfig, *, now: datetime) -> list[dict[str, Any]]:
    """Count every frame still waiting in the reorder buffer (the camera went quiet)."""
    ready, state.pending = state.pending, []
    return [event for frame in ready for event in _count(state, camera_id, frame, config, now)]


def _count(
    state: CameraHealth, camera_id: str, obs: HealthObservation, config: HealthConfig, now: datetime
) -> list[dict[str, Any]]:
    """Count one frame, in time order: the event of the change of state it makes, if any."""
    at, stats = obs.captured_at, obs.stats
    first = state.last_at is None
    difference = None if state.last_thumbnail is None else thumbnail_difference(stats.thumbnail, state.last_thumbnail)
    blind = is_blind(stats, config)
    same = difference is not None and difference <= config.frozen_difference
    state.same_since = (state.same_since or state.last_at) if same else None
    state.blind_since = (state.blind_since or at) if blind else None
    state.night_since = (state.night_since or at) if (not blind and obs.period == NIGHT) else None
    distance = _follow_scene(state, obs, blind, config)
    state.last_at, state.last_thumbnail = at, stats.thumbnail

    if _held(state.blind_since, at, config.blind_minutes):
        target, since = BLIND, state.blind_since
    elif _held(state.same_since, at, config.frozen_minutes):
        target, since = FROZEN, state.same_since
    elif _held(state.moved_since, at, config.moved_minutes):
        target, since = MOVED, state.moved_since
    elif _held(state.night_since, at, config.night_minutes):
        target, since = NIGHT_STATE, state.night_since
    else:
        target, since = HEALTHY, at
    if first:
        state.state, state.since = target, at
        return []
    if target == state.state:
        return []
    previous, state.state, state.since = state.state, target, since
    reason = _reason(target, previous, stats, difference, distance, at, since)
    return [_event(camera_id, target, previous, obs.frame_key, at, since, now, stats, difference, distance, reason)]


def _follow_scene(state: CameraHealth, obs: HealthObservation, blind: bool, config: HealthConfig) -> float | None:
    """Compare a day frame with the reference scene, update the reference or the moved streak;
    the scene distance (None: not compared, at night or blind)."""
    at, thumb = obs.captured_at, obs.stats.thumbnail
    if blind or obs.period == NIGHT:
        state.moved_since = None
        return None
    if state.reference is None or state.reference_at is None:
        state.reference, state.reference_at = thumb, at
        return 0.0
    if state.state == MOVED and _held(state.since, at, config.moved_accept_minutes):
        state.reference, state.reference_at, state.moved_since = thumb, at, None  # the new view is the scene now
        return 0.0
    distance = scene_distance(thumb, state.reference)
    if distance > config.moved_distance:
        state.moved_since = state.moved_since or at  # the reference is held while the scene differs
        return distance
    state.moved_since = None
    weight = min(1.0, max(0.0, (at - state.reference_at).total_seconds()) / (config.reference_minutes * 60.0))
    state.reference = tuple(r + weight * (t - r) for r, t in zip(state.reference, thumb, strict=True))
    state.reference_at = at
    return distance


def expire(
    state: CameraHealth, camera_id: str, config: HealthConfig, *, now: datetime, silent_seconds: float
) -> list[dict[str, Any]]:
    """The camera sent no frame for `silent_seconds` (wall clock): the frames still waiting are
    counted, then one `stale` event (none when it already is); the streaks start again when frames
    return, the reference scene is kept."""
    events = flush(state, camera_id, config, now=now)
    if state.state == STALE or state.last_at is None:
        return events
    previous, state.state, state.since = state.state, STALE, state.last_at
    state.same_since = state.blind_since = state.night_since = state.moved_since = None
    state.last_thumbnail = None
    reason = f"no frame for {silent_seconds:.0f} s"
    return [*events, _event(camera_id, STALE, previous, None, None, state.last_at, now, None, None, None, reason)]


def _reason(
    target: str,
    previous: str,
    stats: FrameStats,
    difference: float | None,
    distance: float | None,
    at: datetime,
    since: datetime | None,
) -> str:
    minutes = (at - since).total_seconds() / 60.0 if since else 0.0
    if target == FROZEN:
        return f"the same picture for {minutes:.1f} min (difference {difference or 0.0:.2f} gray levels)"
    if target == BLIND:
        return (
            f"blind for {minutes:.1f} min: brightness {stats.brightness:.3f}, contrast {stats.contrast:.3f}, "
            f"detail {stats.detail:.3f}"
        )
    if target == MOVED:
        return f"the scene changed {minutes:.1f} min ago (distance {distance or 0.0:.2f} from the reference)"
    if target == NIGHT_STATE:
        return f"dark frames with detail: brightness {stats.brightness:.3f}, detail {stats.detail:.3f}"
    return f"recovered from {previous}"


def _event(
    camera_id: str,
    state: str,
    previous: str,
    frame_key: str | None,
    frame_time: datetime | None,
    since: datetime | None,
    now: datetime,
    stats: FrameStats | None,
    difference: float | None,
    distance: float | None,
    reason: str,
) -> dict[str, Any]:
    """A camera-health event as a camera_health-table row (infra/schemas/camera_health.json)."""
    when = frame_time or since or now
    digest = hashlib.sha256(f"{camera_id}|{state}|{frame_key or ''}|{rfc3339(when)}".encode()).hexdigest()[:16]
    return {
        "event_id": f"{camera_id}-{state}-{digest}",
        "camera_id": camera_id,
        "state": state,
        "previous_state": previous,
        "event_time": rfc3339(now),
        "frame_time": rfc3339(frame_time),
        "condition_since": rfc3339(since),
        "frame_key": frame_key,
        "brightness": None if stats is None else stats.brightness,
        "contrast": None if stats is None else stats.contrast,
        "detail": None if stats is None else stats.detail,
        "difference": None if difference is None else round(difference, 4),
        "scene_distance": None if distance is None else round(distance, 4),
        "reason": reason,
    }


def health_message_parts(row: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """A camera-health event as the alerts topic's message: the row as JSON with `event` set to the
    new state (as `firewatch notify` routes events: frozen, blind, moved, night, stale, healthy),
    and attributes `event=camera_health`, `camera_id`, `state` for subscription filters."""
    body = {**row, "event": row["state"]}
    attributes = {"event": HEALTH_EVENT, "camera_id": row["camera_id"], "state": row["state"]}
    return json.dumps(body, sort_keys=True).encode("utf-8"), attributes
