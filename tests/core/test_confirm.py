"""Per-camera confirmation: k of n, hysteresis, clear-time close, cooldown, order and duplicates."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from firewatch.core.confirm import CameraState, ConfirmConfig, FrameObservation, flush, step

T0 = datetime(2026, 11, 22, 12, tzinfo=UTC)
NOW = T0


def obs(second, p, key=None):
    return FrameObservation(T0 + timedelta(seconds=second), key or f"cam/{second}", p, 0.5, "v1")


def run(probs, config=ConfirmConfig(clear_seconds=3, cooldown_seconds=10, reorder_seconds=0), state=None, start=0):
    state = state or CameraState()
    events = []
    for i, p in enumerate(probs):
        events += [(start + i, e) for e in step(state, "cam", obs(start + i, p), config, now=NOW)]
    return state, events


def test_opens_on_third_fire_of_five_and_closes_after_clear_time():
    _, events = run([0.1, 0.9, 0.2, 0.8, 0.1, 0.95, 0.1, 0.1, 0.1, 0.1])
    kinds = [(i, e["event"]) for i, e in events]
    assert kinds == [(5, "open"), (8, "close")]
    opened = events[0][1]
    assert opened["fire_frames"] == 3 and opened["peak_probability"] == 0.95
    assert opened["first_frame_at"] == "2026-11-22T12:00:01.000000Z"
    assert events[1][1]["alert_id"] == opened["alert_id"]


def test_clear_camera_never_alerts_and_two_of_five_is_not_enough():
    assert run([0.1] * 50)[1] == []
    assert run([0.9, 0.9, 0.1, 0.1, 0.1] * 10)[1] == []


def test_hysteresis_keeps_alert_open_at_lower_probability():
    # 0.45 is below the 0.5 open threshold but above 0.5 * 0.75: the alert stays open.
    _, events = run([0.9, 0.9, 0.9] + [0.45] * 6 + [0.1] * 4)
    assert [e["event"] for _, e in events] == ["open", "update", "close"]
    closed = events[-1][1]
    assert closed["fire_frames"] == 9 and closed["last_frame_at"] == "2026-11-22T12:00:11.000000Z"
    # Without an open alert, 0.45 frames never open one.
    assert run([0.45] * 10)[1] == []


def test_cooldown_suppresses_immediate_reopen():
    config = ConfirmConfig(clear_seconds=2, cooldown_seconds=100, reorder_seconds=0)
    _, events = run([0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.9, 0.9, 0.9, 0.9], config)
    assert [e["event"] for _, e in events] == ["open", "close"]
    _, events = run(
        [0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.9, 0.9, 0.9],
        ConfirmConfig(clear_seconds=2, cooldown_seconds=0, reorder_seconds=0),
    )
    assert [e["event"] for _, e in events] == ["open", "close", "open"]


def test_duplicates_are_ignored_and_out_of_order_frames_are_ordered():
    config = ConfirmConfig(clear_seconds=30, reorder_seconds=0)
    state = CameraState()
    # The same fire frame delivered three times must not open an alert on its own.
    for _ in range(3):
        assert step(state, "cam", obs(1, 0.9, key="cam/dup"), config, now=NOW) == []
    assert state.duplicate_frames == 2
    # Fire frames arriving out of order still count; the first frame time is the earliest.
    events = []
    for second in (5, 3, 4):
        events += step(state, "cam", obs(second, 0.9), config, now=NOW)
    assert [e["event"] for e in events] == ["open"]
    assert events[0]["first_frame_at"] == "2026-11-22T12:00:01.000000Z"


def test_frame_older_than_full_window_is_late():
    state, _ = run([0.1] * 5, start=10)
    assert step(state, "cam", obs(1, 0.99), ConfirmConfig(reorder_seconds=0), now=NOW) == []
    assert state.late_frames == 1


def test_config_validation():
    with pytest.raises(ValidationError, match="cannot exceed"):
        ConfirmConfig(k=6, n=5)


EPISODE = [0.1] * 4 + [0.9] * 10 + [0.1] * 10  # frames 0..23, one second apart


def deliver(order, config):
    state, events = CameraState(), []
    for second in order:
        events += step(state, "cam", obs(second, EPISODE[second]), config, now=NOW)
    events += flush(state, "cam", config, now=NOW)
    return [(e["event"], e["fire_frames"], e["first_frame_at"], e["last_frame_at"]) for e in events]


def test_out_of_order_delivery_gives_the_same_alerts_as_in_order():
    config = ConfirmConfig(clear_seconds=5, reorder_seconds=8)
    in_order = deliver(range(len(EPISODE)), config)
    assert [e[:2] for e in in_order] == [("open", 3), ("update", 5), ("update", 10), ("close", 10)]
    rng = random.Random(5)
    for _ in range(20):
        # Shuffle within blocks of 6 frames: arrival jitter of up to 6 s, under reorder_seconds.
        order = []
        for start in range(0, len(EPISODE), 6):
            block = list(range(start, min(start + 6, len(EPISODE))))
            rng.shuffle(block)
            order += block
        assert deliver(order, config) == in_order


def test_frames_wait_for_the_watermark_and_flush_counts_the_rest():
    config = ConfirmConfig(reorder_seconds=10)
    state = CameraState()
    for second in range(3):
        assert step(state, "cam", obs(second, 0.9), config, now=NOW) == []
    assert len(state.pending) == 3 and not state.window
    assert [e["event"] for e in flush(state, "cam", config, now=NOW)] == ["open"]
    assert state.pending == []


def test_overlay_uri_is_readable_and_unique():
    from firewatch.core.overlay import overlay_uri

    a = overlay_uri("gs://b/explanations/", "v1", "cam-1/frame-0007.png")
    assert a.startswith("gs://b/explanations/v1/cam-1_frame-0007-") and a.endswith(".png") and ".png.png" not in a
    assert overlay_uri("gs://b/x", "v1", "cam/a_b") != overlay_uri("gs://b/x", "v1", "cam/a/b")


def test_expire_ends_an_open_alert_as_stale_after_counting_what_waits():
    from firewatch.core.confirm import expire

    config = ConfirmConfig(clear_seconds=3, cooldown_seconds=10, reorder_seconds=2)
    state = CameraState()
    events = []
    for i, p in enumerate([0.9, 0.9, 0.9, 0.9]):
        events += step(state, "cam", obs(i, p), config, now=NOW)
    assert [e["event"] for e in events] == []  # still in the reorder buffer
    ended = expire(state, "cam", config, now=NOW)
    assert [e["event"] for e in ended] == ["open", "stale"] and ended[-1]["fire_frames"] == 4
    assert state.episode is None and state.pending == []
    assert expire(CameraState(), "quiet", config, now=NOW) == []  # nothing open: nothing to say


def test_the_alert_shows_the_most_probable_explained_frame_and_no_overlay_that_will_not_exist():
    """Not every fire frame is explained (streaming's policy): the alert's explanation URI is the
    overlay of its most probable explained frame, never of a frame nobody explains."""
    config = ConfirmConfig(clear_seconds=3, cooldown_seconds=10, reorder_seconds=0)
    frames = [(0, 0.80, True), (1, 0.97, False), (2, 0.90, True), (3, 0.99, False)] + [
        (s, 0.1, False) for s in range(4, 9)
    ]
    state, events = CameraState(), []
    for second, p, explained in frames:
        observation = FrameObservation(T0 + timedelta(seconds=second), f"cam/{second}", p, 0.5, "v1", None, explained)
        events += step(
            state, "cam", observation, config, now=NOW, explanation_uri_for=lambda key, v: f"gs://o/{v}/{key}.png"
        )
    opened, closed = events
    assert opened["peak_frame_key"] == "cam/1" and opened["explanation_uri"] == "gs://o/v1/cam/2.png"
    assert closed["peak_frame_key"] == "cam/3" and closed["explanation_uri"] == "gs://o/v1/cam/2.png"
    state, events = CameraState(), []
    for second in range(4):
        observation = FrameObservation(T0 + timedelta(seconds=second), f"cam/{second}", 0.9, 0.5, "v1")
        events += step(state, "cam", observation, config, now=NOW, explanation_uri_for=lambda key, v: f"gs://o/{key}")
    assert events and all(e["explanation_uri"] is None for e in events)
