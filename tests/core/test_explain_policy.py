"""The per-camera explanation policy: episode starts, new peaks, then one frame per interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from firewatch.core.explain_policy import EPISODE_START, INTERVAL, NEW_PEAK, RATE_LIMITED, ExplainPolicy

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_burning_camera_is_explained_at_its_start_peaks_and_interval() -> None:
    policy = ExplainPolicy(min_interval_seconds=10)
    decisions = [policy.decide("cam", at(s), p)[1] for s, p in [(0, 0.8), (1, 0.7), (2, 0.9), (3, 0.85), (9, 0.6)]]
    assert decisions == [EPISODE_START, RATE_LIMITED, NEW_PEAK, RATE_LIMITED, RATE_LIMITED]
    assert policy.decide("cam", at(12), 0.6) == (True, INTERVAL)  # 10 s after the last explained (2 s)
    assert policy.decide("cam", at(13), 0.6) == (False, RATE_LIMITED)


def test_a_quiet_gap_starts_a_new_episode_and_cameras_are_independent() -> None:
    policy = ExplainPolicy(min_interval_seconds=5)
    assert policy.decide("a", at(0), 0.99)[1] == EPISODE_START
    assert policy.decide("b", at(1), 0.6)[1] == EPISODE_START
    assert policy.decide("a", at(2), 0.7)[1] == RATE_LIMITED
    assert policy.decide("a", at(30), 0.7)[1] == EPISODE_START  # no fire frame for 28 s
    assert policy.decide("a", at(31), 0.75)[1] == NEW_PEAK  # the peak restarts with the episode


def test_zero_interval_explains_every_fire_frame() -> None:
    policy = ExplainPolicy(min_interval_seconds=0)
    assert all(policy.decide("cam", at(s / 10), 0.7)[0] for s in range(50))


def test_state_is_bounded_by_camera_count() -> None:
    policy = ExplainPolicy(min_interval_seconds=10, max_cameras=3)
    for c in range(5):
        policy.decide(f"cam-{c}", at(0), 0.9)
    assert policy.decide("cam-0", at(1), 0.5)[1] == EPISODE_START  # forgotten: least recently seen
    assert policy.decide("cam-4", at(1), 0.5)[1] == RATE_LIMITED


def test_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="min_interval_seconds"):
        ExplainPolicy(-1)


def test_a_backlog_arriving_at_once_is_limited_in_wall_clock_time_too() -> None:
    policy = ExplainPolicy(min_interval_seconds=10)
    # 60 s of one camera's frames (equal probability) arrive within 3 s of wall-clock time.
    decisions = [policy.decide("cam", at(s), 0.8, now=100.0 + s / 20)[1] for s in range(60)]
    assert decisions[0] == EPISODE_START and decisions.count(RATE_LIMITED) == 59
    assert policy.decide("cam", at(61), 0.8, now=111.0) == (True, INTERVAL)  # 10 s of both passed


def test_a_new_peak_must_beat_the_explained_one_by_the_margin() -> None:
    """A saturated model's scores creep up by thousandths: each record is not worth an explanation."""
    policy = ExplainPolicy(min_interval_seconds=10, peak_margin=0.05)
    creeping = [0.9900, 0.9931, 0.9954, 0.9972, 0.9988, 0.9995, 0.9999]
    decisions = [policy.decide("cam", at(s), p)[1] for s, p in enumerate(creeping)]
    assert decisions == [EPISODE_START] + [RATE_LIMITED] * 6
    ramp = ExplainPolicy(min_interval_seconds=10, peak_margin=0.05)
    decisions = [ramp.decide("cam", at(s / 10), 0.5 + s / 100)[1] for s in range(50)]  # 0.50 -> 0.99
    peaks = decisions.count(NEW_PEAK)
    assert decisions[0] == EPISODE_START and 8 <= peaks <= 10  # about (0.99 - 0.50) / 0.05
    with pytest.raises(ValueError, match="peak_margin"):
        ExplainPolicy(10, peak_margin=1.0)
