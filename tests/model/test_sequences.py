"""The fire-sequence measurement (`model.evaluation.sequences`) with a model whose output the test controls: a
"model" that scores a region by its share of hot, warm pixels. What is checked is the measurement's
logic (light, lamps, baselines learned from day 1, confirmation, time to alert), not model quality."""

from __future__ import annotations

import numpy as np
import pytest

from firewatch.core.baselines import BaselineConfig
from firewatch.core.confirm import ConfirmConfig
from model.evaluation.camera_light import light_at
from model.evaluation.sequence_report import summary
from model.evaluation.sequences import Camera, FrameScorer, measure_camera


def warm_pixels(inputs: np.ndarray) -> np.ndarray:
    """Probability from the share of bright warm pixels (a lamp's core, a flame), capped at 0.95."""
    r, b = inputs[..., 0], inputs[..., 2]
    warm = (r > 0.85) & (r - b > 0.4)
    return 0.95 * np.clip(warm.mean(axis=(1, 2)) * 2000, 0, 1)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A blue-green 960 x 540 landscape with texture and nothing warm in it."""
    rng = np.random.default_rng(0)
    y = np.linspace(0, 1, 540)[:, None]
    base = np.stack([60 + 80 * y, 120 + 40 * y, 170 - 90 * y], axis=-1) * np.ones((1, 960, 1))
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


def run(scorer: FrameScorer, camera: Camera):
    return measure_camera(
        scorer, camera, hours=[0, 12], ignition_hours=[12], interval=10.0, doubling_seconds=120.0,
        max_seconds=600.0, confirm=ConfirmConfig(), baseline_config=BaselineConfig(),
    )  # fmt: skip


def test_a_night_lamp_alerts_every_night_until_the_baselines_learn_it_and_a_fire_still_alerts(photo):
    scorer = FrameScorer(warm_pixels, 128, 0.5, "fake")
    plain = run(scorer, Camera("cam-0", photo, 0, None))
    lamp = run(scorer, Camera("cam-1", photo, 1, (0.3, 0.4)))

    assert light_at(0).lamp and not light_at(12).lamp
    assert plain.false_alerts == {"model threshold": [], "with baselines": []}
    # the lamp fools the model at midnight on both days; learned on day 1, it is quiet on day 2
    assert lamp.false_alerts == {"model threshold": ["day 1 00h", "day 2 00h"], "with baselines": []}
    for result in (plain, lamp):
        (fire,) = result.ignitions
        for setting in ("model threshold", "with baselines"):
            assert fire[setting]["seconds_after_3pct"] <= 60
            assert fire[f"{setting}: alert elsewhere first"] is False

    report = summary([plain, lamp])
    assert report["model threshold"]["false_alerts_per_camera_day"] == 2 / 4
    assert report["model threshold"]["false_alerts_per_camera_day_lamp_cameras"] == 2 / 2
    assert report["with baselines"]["false_alerts_per_camera_day"] == 0
    assert report["model threshold"]["false_alerts_by_period"] == {"day": 0, "night": 2}  # the lamp, at 00h
    assert report["with baselines"]["alerted"] == report["with baselines"]["within_target"] == 2
    assert report["model threshold"]["alert_elsewhere_first"] == 0


def test_time_to_alert_counts_the_reorder_wait_from_the_frame_that_opened_the_alert(photo):
    """A model that calls fire every region with a warm pixel in it: frames at 0, 10 and 20 s fire; the
    third is counted when the next frame arrives (10 s later), so the alert comes 30 s after ignition,
    and the flame (1% at ignition, doubling every 120 s) reaches 3% at 120 * log2(3) = 190.2 s: 160.2 s
    before."""

    def any_warm(inputs: np.ndarray) -> np.ndarray:
        r, b = inputs[..., 0], inputs[..., 2]
        return np.where(((r > 0.6) & (r - b > 0.3)).any(axis=(1, 2)), 0.9, 0.1)

    scorer = FrameScorer(any_warm, 128, 0.5, "fake")
    (fire,) = run(scorer, Camera("cam-0", photo, 0, None)).ignitions
    assert fire["model threshold"]["seconds_after_3pct"] == pytest.approx(30 - 120 * np.log2(3), abs=0.1)
    assert fire["model threshold"]["flame_height_at_alert"] == pytest.approx(0.01 * 2 ** (20 / 120), abs=1e-4)


def test_a_false_alert_elsewhere_comes_first_and_the_fire_still_gets_its_own_alert(photo):
    """Every frame of this camera fires in its top-left corner (a warm sign the model takes for fire),
    and the flame stands elsewhere: the corner's alert opens first and stays open, and the flame opens
    its own alert beside it (a camera has one open alert per place)."""
    scorer = FrameScorer(warm_pixels, 128, 0.5, "fake")
    corner = photo.copy()
    corner[:60, :60] = (255, 120, 20)  # a warm sign in the corner, always there
    (fire,) = run(scorer, Camera("cam-0", corner, 0, None)).ignitions
    assert fire["model threshold: alert elsewhere first"] is True
    assert fire["model threshold"]["seconds_after_3pct"] <= 60
    # learned from day 1, the corner no longer alerts
    assert fire["with baselines: alert elsewhere first"] is False
    assert fire["with baselines"]["seconds_after_3pct"] <= 60
