"""Frame statistics at decode: brightness, contrast, detail, thumbnail, scene distance, period."""

from __future__ import annotations

import numpy as np
import pytest

from firewatch.core.frame_stats import (
    DAY,
    NIGHT,
    THUMB_H,
    THUMB_W,
    frame_stats,
    period_of,
    scene_distance,
    thumbnail_difference,
)


def scene(seed: int, gain: float = 1.0, size: tuple[int, int] = (90, 160)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (9, 16, 3)).astype(np.float64)
    big = np.kron(base, np.ones((size[0] // 9, size[1] // 16, 1)))
    return np.clip(big * gain, 0, 255).astype(np.uint8)


def test_black_frame_has_no_brightness_contrast_or_detail():
    stats = frame_stats(np.zeros((72, 128, 3), np.uint8))
    assert (stats.brightness, stats.contrast, stats.detail) == (0.0, 0.0, 0.0)
    assert len(stats.thumbnail) == THUMB_W * THUMB_H


def test_white_frame_is_fully_bright():
    assert frame_stats(np.full((72, 128, 3), 255, np.uint8)).brightness == pytest.approx(1.0, abs=1e-3)


def test_textured_frame_has_contrast_and_detail():
    stats = frame_stats(scene(1))
    assert stats.contrast > 0.1 and stats.detail > 0.01


def test_large_frames_are_reduced_but_agree_with_small_ones():
    small, large = frame_stats(scene(2, size=(180, 320))), frame_stats(scene(2, size=(1080, 1920)))
    assert large.brightness == pytest.approx(small.brightness, abs=0.01)
    assert thumbnail_difference(small.thumbnail, large.thumbnail) < 2.0


def test_same_picture_differs_by_nothing_another_by_much():
    a, b = frame_stats(scene(3)), frame_stats(scene(4))
    assert thumbnail_difference(a.thumbnail, a.thumbnail) == 0.0
    assert thumbnail_difference(a.thumbnail, b.thumbnail) > 20


def test_scene_distance_ignores_brightness_but_not_layout():
    a, darker, other = frame_stats(scene(5)), frame_stats(scene(5, gain=0.5)), frame_stats(scene(6))
    assert scene_distance(a.thumbnail, darker.thumbnail) < 0.05
    assert scene_distance(a.thumbnail, other.thumbnail) > 0.5
    flat = frame_stats(np.zeros((72, 128, 3), np.uint8)).thumbnail
    assert scene_distance(flat, a.thumbnail) == 0.0


def test_period_from_brightness():
    dark, bright = frame_stats(scene(7, gain=0.2)), frame_stats(scene(7))
    assert period_of(dark, 0.25) == NIGHT
    assert period_of(bright, 0.25) == DAY
    assert period_of(None, 0.25) is None  # not judged: no guess
