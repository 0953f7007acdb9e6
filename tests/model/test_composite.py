"""`model.data.composite`: flames pasted into real photographs are deterministic and their box is where the flame is."""

from __future__ import annotations

import numpy as np
import pytest

from model.data.composite import composite_flame, fit_frame, random_placement


def _scene(seed: int = 0, height: int = 540, width: int = 960) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.linspace(40, 120, width, dtype=np.float32)[None, :, None] * np.array([0.6, 1.0, 0.7], np.float32)
    noise = rng.normal(0, 6, (height, width, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def test_composite_is_deterministic_and_leaves_the_photo_alone():
    photo = _scene()
    before = photo.copy()
    a = composite_flame(photo, [3, 1], height=0.2, x=0.4, base=0.7)
    b = composite_flame(photo, [3, 1], height=0.2, x=0.4, base=0.7)
    c = composite_flame(photo, [3, 2], height=0.2, x=0.4, base=0.7)
    assert np.array_equal(a.pixels, b.pixels) and a.box == b.box
    assert not np.array_equal(a.pixels, c.pixels)
    assert np.array_equal(photo, before)
    assert a.pixels.shape == photo.shape and a.pixels.dtype == np.uint8


@pytest.mark.parametrize("height", [0.5, 0.25, 0.06, 0.03])
def test_box_is_where_the_flame_is(height: float):
    photo = _scene(1)
    frame_h, frame_w = photo.shape[:2]
    result = composite_flame(photo, [0, 7], height=height, x=0.6, base=0.85, smoke=False)
    x0, y0, x1, y1 = result.box
    assert y1 - y0 == pytest.approx(height, abs=2 / frame_h)
    assert x0 < 0.6 < x1 and y1 == pytest.approx(0.85, abs=2 / frame_h)
    changed = np.abs(result.pixels.astype(int) - photo.astype(int)).max(-1) > 60  # flame pixels, not just glow
    rows, cols = np.nonzero(changed)
    assert rows.size > 0
    # nearly all strongly changed pixels (the flame; the glow fades around it) lie in the box
    tol = 0.05 * height * frame_h + 2
    in_box = (rows >= y0 * frame_h - tol) & (rows <= y1 * frame_h + tol)
    in_box &= (cols >= x0 * frame_w - tol) & (cols <= x1 * frame_w + tol)
    assert in_box.mean() > 0.95
    # the flame fills a good part of its box and is fire-coloured (red above blue)
    inside = result.pixels[round(y0 * frame_h) : round(y1 * frame_h), round(x0 * frame_w) : round(x1 * frame_w)]
    assert changed.sum() > 0.2 * inside.shape[0] * inside.shape[1]
    assert (result.pixels[changed][:, 0].astype(int) - result.pixels[changed][:, 2]).mean() > 80


def test_lighting_darkens_the_scene_only():
    photo = _scene(2)
    lit = composite_flame(photo, 5, height=0.1, x=0.2, base=0.9, lighting=1.0)
    dusk = composite_flame(photo, 5, height=0.1, x=0.2, base=0.9, lighting=0.3)
    assert dusk.box == lit.box
    assert dusk.pixels[:50, -50:].mean() < 0.4 * lit.pixels[:50, -50:].mean()


def test_fit_frame_and_placement():
    frame = fit_frame(_scene(3, 300, 400), 1920, 1080)
    assert frame.shape == (1080, 1920, 3)
    rng = np.random.default_rng(0)
    for height in (0.5, 0.03):
        for _ in range(20):
            x, base = random_placement(rng, height)
            box = composite_flame(frame, int(rng.integers(1 << 30)), height=height, x=x, base=base).box
            assert 0 <= box[0] < box[2] <= 1 and 0 <= box[1] < box[3] <= 1
            assert box[3] - box[1] == pytest.approx(height, abs=2 / 1080)
