"""The overlay PNG is a readable picture: original | heat map with region boxes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from firewatch.core.explain import Region
from firewatch.core.overlay import CAPTION_HEIGHT, GAP, MIN_PANEL_WIDTH, render_overlay


def _scene(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    original = (rng.random((height, width, 3)) * 60 + 60).astype(np.uint8)  # dull grey-ish noise
    attributions = rng.normal(0.0, 1e-4, (64, 64))
    attributions[40:56, 8:24] += 0.01  # a hot spot in the lower left quarter
    return original, attributions


def _open(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def test_overlay_is_side_by_side_original_and_heat_map():
    original, attributions = _scene(300, 400)
    region = Region(0.125, 0.625, 0.375, 0.875, 0.8)
    image = _open(render_overlay(original, attributions, [region], title="p(fire)=0.93"))
    assert image.format == "PNG" and image.mode == "RGB"
    assert image.size == (2 * 400 + GAP, 300 + CAPTION_HEIGHT)
    pixels = np.asarray(image).astype(int)
    left = pixels[CAPTION_HEIGHT:, :400]
    right = pixels[CAPTION_HEIGHT:, 400 + GAP :]
    assert np.array_equal(left, original)  # the original, untouched, at its own size
    # The hot spot (rows 188-262, cols 50-112 in frame pixels) is red/yellow on the right only.
    hot = right[215:255, 60:100]
    assert hot[..., 0].mean() > 180 and hot[..., 0].mean() > hot[..., 2].mean() + 100
    assert abs(left[200:250, 60:100, 0].mean() - left[200:250, 60:100, 2].mean()) < 20
    # Far from the hot spot the right panel is the dimmed original in grey, not coloured.
    cold = right[20:80, 300:380]
    assert abs(cold[..., 0].mean() - cold[..., 2].mean()) < 15 and cold.mean() < left[20:80, 300:380].mean()
    # The region box outline is drawn in its colour (cyan) around the hot spot.
    box_edge = right[187:262, 50]
    assert (box_edge[:, 1] > 200).mean() > 0.8 and (box_edge[:, 2] > 200).mean() > 0.8


def test_small_frames_are_enlarged_and_large_ones_reduced():
    small, attributions = _scene(96, 128)
    image = _open(render_overlay(small, attributions, []))
    assert image.size == (2 * MIN_PANEL_WIDTH + GAP, 192 + CAPTION_HEIGHT)
    large, _ = _scene(1080, 1920)
    image = _open(render_overlay(large, attributions, []))
    assert image.size == (2 * 640 + GAP, 360 + CAPTION_HEIGHT)


def test_zero_attributions_and_bad_inputs():
    original, _ = _scene(256, 256)
    image = _open(render_overlay(original, np.zeros((64, 64)), []))
    right = np.asarray(image)[CAPTION_HEIGHT:, 256 + GAP :].astype(int)
    grey = np.asarray(Image.fromarray(original).convert("L"), dtype=float)
    assert np.allclose(right, (grey * 0.6)[..., None].repeat(3, -1), atol=1)  # nothing to show: grey
    with pytest.raises(ValueError, match="uint8"):
        render_overlay(original.astype(np.float32), np.zeros((64, 64)), [])
    with pytest.raises(ValueError, match="attributions"):
        render_overlay(original, np.zeros(64), [])
