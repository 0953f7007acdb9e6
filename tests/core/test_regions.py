"""Region planning, masks per region, region inputs and the frame summary (firewatch.core.regions)."""

from __future__ import annotations

import numpy as np
import pytest

from firewatch.core.imaging import to_model_input
from firewatch.core.regions import (
    WHOLE_BOX,
    WHOLE_FRAME,
    Region,
    RegionConfig,
    blank,
    contains,
    iou,
    masked_share,
    plan_regions,
    region_inputs,
    summarise,
    unmasked_regions,
)

CFG = RegionConfig()


def test_small_frames_and_disabled_regions_are_the_whole_frame_only():
    assert plan_regions(128, 128, 128, CFG) == [Region(0, 0, 128, 128, WHOLE_FRAME)]
    assert plan_regions(320, 120, 128, CFG) == [Region(0, 0, 320, 120, WHOLE_FRAME)]
    assert plan_regions(1920, 1080, 128, RegionConfig(enabled=False)) == [Region(0, 0, 1920, 1080, WHOLE_FRAME)]


def test_1080p_grid_covers_the_frame_with_square_overlapping_regions():
    regions = plan_regions(1920, 1080, 128, CFG)
    assert regions[0].level == WHOLE_FRAME
    by_level: dict[int, list[Region]] = {}
    for r in regions[1:]:
        by_level.setdefault(r.level, []).append(r)
    assert sorted(by_level) == [1, 2]
    for level, side in ((1, 540), (2, 270)):
        rs = by_level[level]
        assert all(r.x1 - r.x0 == side and r.y1 - r.y0 == side for r in rs)  # square: aspect ratio kept
        assert all(0 <= r.x0 and r.x1 <= 1920 and 0 <= r.y0 and r.y1 <= 1080 for r in rs)
        covered = np.zeros((1080, 1920), bool)
        for r in rs:
            covered[r.y0 : r.y1, r.x0 : r.x1] = True
        assert covered.all()  # every pixel is in some region of every level
        xs = sorted({r.x0 for r in rs})
        assert max(b - a for a, b in zip(xs, xs[1:], strict=False)) <= side * (1 - CFG.overlap) + 1
    assert len(by_level[1]) == 15 and len(by_level[2]) == 50


def test_regions_never_upscale_and_max_regions_caps_the_plan():
    regions = plan_regions(400, 300, 128, CFG)  # 0.25 x 300 = 75 px < 128: that level uses 128-px regions
    assert {r.side for r in regions[1:]} == {150, 128}
    assert len(plan_regions(1920, 1080, 128, RegionConfig(max_regions=10))) == 10


def test_scales_are_validated_and_ordered_coarse_to_fine():
    assert RegionConfig(scales=(0.25, 0.5, 0.25)).scales == (0.5, 0.25)
    with pytest.raises(ValueError, match="between 0 and 1"):
        RegionConfig(scales=(1.5,))


def test_mostly_masked_regions_are_not_scored_and_masked_pixels_are_blanked():
    regions = plan_regions(1920, 1080, 128, CFG)
    left_half = [(0.0, 0.0, 0.5, 1.0)]
    kept = unmasked_regions(regions, left_half, 1920, 1080, cover=0.5)
    assert kept[0].level == WHOLE_FRAME  # the whole frame is always scored (blanked)
    assert all(masked_share(r, left_half, 1920, 1080) < 0.5 for r in kept[1:])
    assert all((r.x0 + r.x1) / 2 >= 960 - 1 for r in kept[1:])
    assert len(kept) < len(regions)
    pixels = np.full((10, 20, 3), 200, np.uint8)
    out = blank(pixels, [(0.0, 0.0, 0.5, 0.5)])
    assert out[:5, :10].max() == 0 and out[5:, :].min() == 200 and pixels.min() == 200  # a copy


def test_region_inputs_whole_frame_matches_preprocess_and_regions_show_their_part():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 60, (300, 500, 3), dtype=np.uint8)
    pixels[200:260, 400:460] = (255, 180, 40)  # a bright patch bottom right
    regions = plan_regions(500, 300, 64, RegionConfig(scales=(0.5,)))
    inputs = region_inputs(pixels, regions, 64)
    assert inputs.shape == (len(regions), 64, 64, 3) and inputs.dtype == np.float32
    np.testing.assert_allclose(inputs[0], to_model_input(pixels, 64), atol=1e-6)
    red = inputs[1:, ..., 0].mean(axis=(1, 2))
    brightest = regions[1 + int(np.argmax(red))]
    assert brightest.x1 >= 460 and brightest.y1 >= 260  # the region holding the patch is the reddest


def test_summary_reports_the_most_specific_firing_regions():
    regions = [
        Region(0, 0, 1000, 1000, 0),
        Region(0, 0, 500, 500, 1),
        Region(500, 500, 1000, 1000, 1),
        Region(100, 100, 250, 250, 2),
        Region(600, 600, 750, 750, 2),
    ]
    scores = summarise(regions, [0.7, 0.9, 0.2, 0.95, 0.3], 0.5, 1000, 1000)
    assert scores.probability == pytest.approx(0.95)
    assert scores.regions_scored == 5
    assert [b.box for b in scores.boxes] == [(0.1, 0.1, 0.25, 0.25)]  # the whole frame and level 1 contain it
    assert scores.peak_box == (0.1, 0.1, 0.25, 0.25) and scores.peak_index == 3
    nothing = summarise(regions, [0.1, 0.2, 0.2, 0.1, 0.3], 0.5, 1000, 1000)
    assert nothing.boxes == () and nothing.probability == pytest.approx(0.3)
    whole = summarise(regions[:1], [0.8], 0.5, 1000, 1000)
    assert whole.boxes[0].box == WHOLE_BOX and whole.peak_box == WHOLE_BOX
    per_region = summarise(regions, [0.7, 0.9, 0.2, 0.95, 0.3], [0.5, 0.5, 0.5, 0.99, 0.5], 1000, 1000)
    assert [b.box for b in per_region.boxes] == [(0.0, 0.0, 0.5, 0.5)]  # its own threshold keeps region 3 quiet
    with pytest.raises(ValueError):
        summarise(regions, [0.1], 0.5, 1000, 1000)


def test_box_geometry():
    assert iou((0, 0, 1, 1), (0, 0, 1, 1)) == 1.0
    assert iou((0, 0, 0.5, 0.5), (0.5, 0.5, 1, 1)) == 0.0
    assert iou((0, 0, 0.5, 1), (0.25, 0, 0.75, 1)) == pytest.approx(1 / 3)
    assert contains((0, 0, 1, 1), (0.2, 0.2, 0.3, 0.3)) and not contains((0, 0, 0.25, 0.25), (0.2, 0.2, 0.3, 0.3))


def test_frames_under_two_model_inputs_are_scored_whole():
    assert len(plan_regions(256, 192, 128, CFG)) == 1  # 192 < 2 x 128: its regions would be most of it again
    assert len(plan_regions(340, 256, 128, CFG)) > 1
    assert len(plan_regions(340, 256, 128, RegionConfig(min_frame_factor=3))) == 1


def test_a_fire_map_narrows_each_box_to_where_the_model_saw_fire():
    from firewatch.core.regions import refine_box

    fire_map = np.zeros((8, 8), np.float32)
    fire_map[5:7, 1:3] = 1.0  # bottom left of the region
    x0, y0, x1, y1 = refine_box((0.5, 0.5, 1.0, 1.0), fire_map)
    assert 0.5 < x0 < 0.6 and 0.65 < x1 < 0.75 and 0.75 < y0 < 0.85 and 0.9 < y1 < 0.98  # cells 1-2, rows 5-6
    assert refine_box((0.5, 0.5, 1.0, 1.0), np.zeros((8, 8))) == (0.5, 0.5, 1.0, 1.0)  # flat: the region
    regions = [Region(0, 0, 1000, 1000, 0), Region(500, 500, 1000, 1000, 1)]
    maps = np.stack([np.ones((8, 8), np.float32), fire_map])
    scores = summarise(regions, [0.6, 0.9], 0.5, 1000, 1000, fire_maps=maps)
    assert scores.boxes[0].box == refine_box((0.5, 0.5, 1.0, 1.0), fire_map)
    assert scores.peak_box == (0.5, 0.5, 1.0, 1.0)  # the region: explanations are placed there
