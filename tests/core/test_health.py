"""The camera-health state machine (`firewatch.core.health`): every transition, one event each."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from firewatch.core.frame_stats import DAY, NIGHT, FrameStats, frame_stats
from firewatch.core.health import (
    BLIND,
    FROZEN,
    HEALTH_EVENT,
    HEALTHY,
    MOVED,
    NIGHT_STATE,
    STALE,
    CameraHealth,
    HealthConfig,
    HealthObservation,
    expire,
    flush,
    health_message_parts,
    step,
)

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
NOW = datetime(2026, 7, 1, 13, 0, tzinfo=UTC)
CONFIG = HealthConfig(reorder_seconds=0)  # each frame counted as it comes (the reorder buffer: below)


def scene(seed: int, noise_seed: int | None = None, gain: float = 1.0) -> np.ndarray:
    """A blocky landscape (the scene of `seed`) with a little sensor noise (a live camera)."""
    base = np.random.default_rng(seed).integers(30, 220, (9, 16, 3)).astype(np.float64)
    picture = np.kron(base, np.ones((10, 10, 1))) * gain
    if noise_seed is not None:
        picture += np.random.default_rng(noise_seed).normal(0, 12, picture.shape)
    return np.clip(picture, 0, 255).astype(np.uint8)


def live(seed: int, i: int, gain: float = 1.0) -> FrameStats:
    return frame_stats(scene(seed, noise_seed=1000 + i, gain=gain))


BLACK = frame_stats(np.zeros((90, 160, 3), np.uint8))
WHITE = frame_stats(np.full((90, 160, 3), 255, np.uint8))
FROZEN_PICTURE = frame_stats(scene(1, noise_seed=7))


class Camera:
    """Feeds frames one minute apart (frame time) and collects the events."""

    def __init__(self, config: HealthConfig = CONFIG) -> None:
        self.state, self.config, self.i, self.events = CameraHealth(), config, 0, []

    def frame(self, stats: FrameStats, period: str = DAY, at: datetime | None = None) -> list[dict]:
        at = at or T0 + timedelta(minutes=self.i)
        obs = HealthObservation(at, f"cam/{self.i}", period, stats)
        self.i += 1
        events = step(self.state, "cam", obs, self.config, now=NOW)
        self.events += events
        return events

    def states(self) -> list[str]:
        return [e["state"] for e in self.events]


def test_a_live_camera_stays_healthy_without_events():
    cam = Camera()
    for i in range(30):
        cam.frame(live(1, i))
    assert cam.events == [] and cam.state.state == HEALTHY


def test_frozen_within_five_minutes_of_frame_time_then_healthy_on_a_new_picture():
    cam = Camera()
    for i in range(3):
        cam.frame(live(1, i))
    for _ in range(6):
        cam.frame(FROZEN_PICTURE)
    assert cam.states() == [FROZEN]
    frozen = cam.events[0]
    assert frozen["previous_state"] == HEALTHY and frozen["difference"] == 0.0
    # the same picture since the first frozen frame (minute 3), frozen once it lasted 3 minutes
    assert frozen["condition_since"] == "2026-07-01T12:03:00.000000Z"
    assert frozen["frame_time"] == "2026-07-01T12:06:00.000000Z"
    cam.frame(live(1, 50))
    assert cam.states() == [FROZEN, HEALTHY]
    assert cam.events[1]["previous_state"] == FROZEN and "recovered" in cam.events[1]["reason"]


def test_nearly_the_same_picture_is_frozen_a_live_one_is_not():
    a = frame_stats(scene(1, noise_seed=3))
    nearly = FrameStats(a.brightness, a.contrast, a.detail, tuple(v + 0.2 for v in a.thumbnail))
    cam = Camera()
    for i in range(5):
        cam.frame(a if i % 2 == 0 else nearly)
    assert cam.states() == [FROZEN]


def test_black_camera_is_blind_not_frozen_and_recovers():
    cam = Camera()
    cam.frame(live(1, 0))
    for _ in range(5):
        cam.frame(BLACK)
    assert cam.states() == [BLIND]
    assert "brightness 0.000" in cam.events[0]["reason"]
    cam.frame(live(1, 9))
    assert cam.states() == [BLIND, HEALTHY]


def test_white_or_uniform_grey_camera_is_blind():
    for picture in (WHITE, frame_stats(np.full((90, 160, 3), 128, np.uint8))):
        cam = Camera()
        cam.frame(live(1, 0))
        for _ in range(5):
            cam.frame(picture, period=DAY)
        assert cam.states() == [BLIND]


def test_blind_needs_its_minutes():
    cam = Camera()
    cam.frame(live(1, 0))
    cam.frame(BLACK)
    cam.frame(BLACK)  # 1 minute of black
    cam.frame(live(1, 3))
    assert cam.events == []


def test_dark_camera_with_detail_is_night_not_blind_and_day_again_is_healthy():
    cam = Camera()
    cam.frame(live(1, 0))
    for i in range(6):
        cam.frame(live(1, 10 + i, gain=0.2), period=NIGHT)
    assert cam.states() == [NIGHT_STATE]
    for i in range(3):
        cam.frame(live(1, 20 + i))
    assert cam.states() == [NIGHT_STATE, HEALTHY]


def test_black_at_night_is_blind():
    cam = Camera()
    cam.frame(live(1, 0))
    for _ in range(6):
        cam.frame(BLACK, period=NIGHT)
    assert cam.states() == [BLIND]


def test_moved_camera_is_moved_once_and_the_new_view_is_accepted_later():
    config = HealthConfig(moved_accept_minutes=10, reorder_seconds=0)
    cam = Camera(config)
    for i in range(5):
        cam.frame(live(1, i))
    for i in range(5):
        cam.frame(live(2, 100 + i))
    assert cam.states() == [MOVED]
    assert cam.events[0]["scene_distance"] > config.moved_distance
    for i in range(12):
        cam.frame(live(2, 200 + i))
    assert cam.states() == [MOVED, HEALTHY]


def test_moved_back_is_healthy_again():
    cam = Camera()
    for i in range(5):
        cam.frame(live(1, i))
    for i in range(5):
        cam.frame(live(2, 100 + i))
    cam.frame(live(1, 300))
    assert cam.states() == [MOVED, HEALTHY]


def test_a_brief_change_or_a_slow_change_of_light_is_not_moved():
    cam = Camera()
    for i in range(5):
        cam.frame(live(1, i))
    cam.frame(live(2, 100))  # someone in front of the lens for a minute
    for i in range(40):  # dusk: the same scene growing darker
        cam.frame(live(1, 10 + i, gain=1.0 - i * 0.015))
    assert cam.events == []


def test_stale_once_then_healthy_when_frames_return():
    cam = Camera()
    cam.frame(live(1, 0))
    events = expire(cam.state, "cam", CONFIG, now=NOW, silent_seconds=300)
    assert [e["state"] for e in events] == [STALE]
    assert events[0]["previous_state"] == HEALTHY and events[0]["frame_key"] is None
    assert expire(cam.state, "cam", CONFIG, now=NOW, silent_seconds=300) == []
    cam.frame(live(1, 5))
    assert cam.states() == [HEALTHY]


def test_a_camera_never_seen_is_not_stale():
    assert expire(CameraHealth(), "cam", CONFIG, now=NOW, silent_seconds=300) == []


def test_redelivered_and_late_frames_are_not_counted():
    cam = Camera()
    cam.frame(live(1, 0), at=T0 + timedelta(minutes=5))
    assert cam.frame(BLACK, at=T0 + timedelta(minutes=5)) == []
    assert cam.frame(BLACK, at=T0) == []
    assert cam.state.last_at == T0 + timedelta(minutes=5) and cam.state.blind_since is None


def test_frames_out_of_order_are_counted_in_frame_time_order():
    """Frozen needs 3 minutes of the same picture in a row: shuffled frames within the reorder
    window still make it, and a live frame delivered late still breaks it where it belongs."""
    config = HealthConfig(reorder_seconds=180)
    frames = [(0, live(1, 0))] + [(m, FROZEN_PICTURE) for m in range(1, 6)] + [(6, live(1, 9))]
    order = [0, 2, 1, 4, 3, 6, 5]
    state, events = CameraHealth(), []
    for index in order:
        minute, stats = frames[index]
        obs = HealthObservation(T0 + timedelta(minutes=minute), f"cam/{minute}", DAY, stats)
        events += step(state, "cam", obs, config, now=NOW)
    assert [e["state"] for e in events] == []  # minutes 0-3 counted: frozen for 2 minutes only
    events += flush(state, "cam", config, now=NOW)
    assert [e["state"] for e in events] == [FROZEN, HEALTHY]
    assert events[0]["frame_time"] == "2026-07-01T12:04:00.000000Z"


def test_a_redelivered_frame_still_waiting_is_not_counted_twice():
    config = HealthConfig(reorder_seconds=300)
    state = CameraHealth()
    obs = HealthObservation(T0, "cam/0", DAY, live(1, 0))
    step(state, "cam", obs, config, now=NOW)
    step(state, "cam", obs, config, now=NOW)
    assert len(state.pending) == 1


def test_expire_counts_the_waiting_frames_before_stale():
    config = HealthConfig(reorder_seconds=600)
    state = CameraHealth()
    for minute, stats in enumerate([live(1, 0)] + [BLACK] * 5):
        step(
            state,
            "cam",
            HealthObservation(T0 + timedelta(minutes=minute), f"cam/{minute}", DAY, stats),
            config,
            now=NOW,
        )
    events = expire(state, "cam", config, now=NOW, silent_seconds=300)
    assert [e["state"] for e in events] == [BLIND, STALE]
    assert events[1]["previous_state"] == BLIND and state.pending == []


def test_each_change_of_state_is_exactly_one_event():
    cam = Camera()
    sequence = [live(1, i) for i in range(3)] + [BLACK] * 6 + [live(1, 20)] + [FROZEN_PICTURE] * 6
    for stats in sequence:
        cam.frame(stats)
    assert cam.states() == [BLIND, HEALTHY, FROZEN]
    assert len({e["event_id"] for e in cam.events}) == 3


def test_thresholds_are_configuration():
    cam = Camera(HealthConfig(frozen_minutes=10, reorder_seconds=0))
    cam.frame(live(1, 0))
    for _ in range(6):
        cam.frame(FROZEN_PICTURE)
    assert cam.events == []


def test_health_message_carries_event_attribute_and_state():
    cam = Camera()
    cam.frame(live(1, 0))
    for _ in range(5):
        cam.frame(BLACK)
    data, attributes = health_message_parts(cam.events[0])
    assert attributes == {"event": HEALTH_EVENT, "camera_id": "cam", "state": BLIND}
    body = json.loads(data)
    assert body["event"] == BLIND and body["state"] == BLIND and body["camera_id"] == "cam"


@pytest.mark.parametrize("field", ["frozen_minutes", "blind_minutes", "moved_minutes", "night_minutes"])
def test_minutes_must_be_positive(field):
    with pytest.raises(ValueError):
        HealthConfig(**{field: 0})


def test_firewatch_notify_reads_a_health_message_as_a_camera_notice_named_by_its_state():
    from firewatch.notify.message import notice

    cam = Camera()
    cam.frame(live(1, 0))
    for _ in range(5):
        cam.frame(BLACK)
    note = notice(json.loads(health_message_parts(cam.events[0])[0]), "https://console.example")
    assert (note.kind, note.event, note.camera_id) == ("camera_health", BLIND, "cam")
    assert "State: blind" in note.lines and any(line.startswith("Reason: blind for") for line in note.lines)
