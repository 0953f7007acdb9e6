"""Alerts per hour on a clear camera: scores replayed through the pipeline's confirmation rules."""

from __future__ import annotations

import pytest

from model.evaluation.alert_rate import clear_camera_alerts, replay


def test_scores_below_the_threshold_never_open():
    report = clear_camera_alerts([0.1, 0.3, 0.49], 0.5, hours=1)
    assert (report["frames"], report["frames_at_threshold"], report["alerts_opened"]) == (3600, 0, 0)


def test_a_scene_always_above_the_threshold_opens_once_and_stays_open():
    events = replay([0.9] * 600, 0.5)
    assert [e["event"] for e in events].count("open") == 1
    assert "close" not in [e["event"] for e in events]


def test_isolated_false_positives_are_suppressed_and_bursts_open():
    isolated = ([0.9] + [0.1] * 9) * 36  # one frame in ten: never 3 of 5
    assert [e["event"] for e in replay(isolated, 0.5)].count("open") == 0
    bursts = ([0.9] * 3 + [0.1] * 197) * 5  # three in a row, then long clear (close + cooldown pass)
    kinds = [e["event"] for e in replay(bursts, 0.5)]
    assert (kinds.count("open"), kinds.count("close")) == (5, 5)


def test_random_draws_are_seeded():
    scores = [0.9] * 3 + [0.1] * 7  # 30% of frames at the threshold: 3 of 5 happens often
    first = clear_camera_alerts(scores, 0.5, hours=0.5, seed=3)
    assert first == clear_camera_alerts(scores, 0.5, hours=0.5, seed=3)
    assert first["alerts_opened"] > 0
    assert first["alerts_per_hour"] == pytest.approx(first["alerts_opened"] / 0.5)
