"""Integrated Gradients + XRAI on the toy model: completeness, regions, configuration."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from firewatch.core.attribution import integrated_gradients, saliency_call_model_function
from firewatch.core.explain import (
    ExplainConfig,
    explain_image,
    explain_images,
    region_from_mask,
    should_explain,
)
from firewatch.core.imaging import to_model_input
from tests.fixtures.regions import box_hit, chance_hit_rate
from tests.fixtures.toy_model import TOY_SIZE, blob_frame


def _frames(count: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [blob_frame(rng) for _ in range(count)]


def test_config_defaults_and_clear_errors():
    config = ExplainConfig()
    assert config.baselines == ("black", "white") and config.error_tolerance == 0.05
    assert config.method == "integrated_gradients+xrai"
    for bad in (
        {"steps": 1},
        {"baselines": ()},
        {"baselines": ("black", "black")},
        {"baselines": ("grey",)},
        {"sample_rate_negatives": 1.5},
        {"top_k_regions": -1},
        {"unknown": 1},
    ):
        with pytest.raises(ValidationError):
            ExplainConfig(**bad)


def test_should_explain_fire_always_negatives_by_sample_rate():
    none, half = ExplainConfig(), ExplainConfig(sample_rate_negatives=0.5)
    assert should_explain("fire", 0.99, none) and should_explain("fire", 0.0, half)
    assert not should_explain("no_fire", 0.0, none)
    assert should_explain("no_fire", 0.49, half) and not should_explain("no_fire", 0.5, half)


def test_completeness_error_small_on_toy_model_and_grows_with_few_steps(toy_model):
    errors, coarse = [], []
    for pixels, _ in _frames(4, seed=1):
        image = to_model_input(pixels, TOY_SIZE)
        explanation = explain_image(toy_model.float_fn, image, ExplainConfig(xrai=False))
        direct = float(toy_model.float_fn(images=image[None])["fire_probability"][0])
        assert explanation.probability == pytest.approx(direct, abs=1e-5)
        assert explanation.probability > 0.5  # the blob makes it "fire": there is something to explain
        total = float(explanation.attributions.sum())
        expected = explanation.probability - np.mean(explanation.baseline_probabilities)
        assert explanation.approximation_error == pytest.approx(abs(total - expected), abs=1e-6)
        assert explanation.attributions.shape == (TOY_SIZE, TOY_SIZE) and not explanation.flagged
        assert explanation.top_regions == [] and explanation.method == "integrated_gradients"
        errors.append(explanation.approximation_error)
        coarse.append(explain_image(toy_model.float_fn, image, ExplainConfig(steps=2, xrai=False)))
    assert max(errors) < 0.05
    # The error measure can fail: two intervals are a poor integral on this nonlinear model.
    assert np.mean([c.approximation_error for c in coarse]) > 5 * np.mean(errors)
    tight = ExplainConfig(steps=2, xrai=False, error_tolerance=1e-6)
    assert explain_image(toy_model.float_fn, image, tight).flagged


def test_trapezoid_ig_agrees_with_the_saliency_library(toy_model):
    import saliency.core as saliency

    pixels, _ = _frames(1, seed=2)[0]
    image = to_model_input(pixels, TOY_SIZE)
    ours, _, _ = integrated_gradients(toy_model.float_fn, image, ["black"], steps=64, batch_size=65)
    library = saliency.IntegratedGradients().GetMask(
        image,
        saliency_call_model_function(toy_model.float_fn),
        x_baseline=np.zeros_like(image),
        x_steps=512,
        batch_size=128,
    )
    scale = np.abs(library).max()
    assert np.abs(ours - library).max() < 0.05 * scale
    assert np.corrcoef(ours.ravel(), library.ravel())[0, 1] > 0.99


def test_top_region_covers_the_blob_far_more_often_than_chance(toy_model):
    hits, chance = [], []
    for pixels, mask in _frames(10, seed=3):
        image = to_model_input(pixels, TOY_SIZE)
        config = ExplainConfig(steps=32, xrai_segmentation="library")  # segments sized for 224 px
        explanation = explain_image(toy_model.float_fn, image, config)
        assert 1 <= len(explanation.top_regions) <= 3
        shares = [r.share for r in explanation.top_regions]
        assert all(0.0 <= s <= 1.0 for s in shares) and sum(shares) <= 1.0 + 1e-6
        top = explanation.top_regions[0]
        hits.append(box_hit(top, mask))
        chance.append(chance_hit_rate(top, mask))
    assert np.mean(hits) >= 0.8
    assert np.mean(hits) >= np.mean(chance) + 0.4


def test_region_from_mask_box_and_share():
    mask = np.zeros((10, 20), bool)
    mask[2:5, 4:10] = True
    attr = np.zeros((10, 20))
    attr[3, 5] = 3.0
    attr[8, 15] = 1.0
    attr[0, 0] = -5.0  # negative attribution is not part of the positive total
    region = region_from_mask(mask, attr)
    assert (region.x_min, region.y_min, region.x_max, region.y_max) == (0.2, 0.2, 0.5, 0.5)
    assert region.share == pytest.approx(0.75)
    assert region_from_mask(mask, np.zeros((10, 20))).share == 0.0


def test_bad_image_shape_is_refused(toy_model):
    with pytest.raises(ValueError, match=r"expected one model-input image \[64, 64, 3\]"):
        explain_image(toy_model.float_fn, np.zeros((1, TOY_SIZE, TOY_SIZE, 3), np.float32), ExplainConfig())
    with pytest.raises(ValueError, match="expected one model-input image"):
        explain_image(toy_model.float_fn, np.zeros((32, 32, 3), np.float32), ExplainConfig())
    with pytest.raises(ValueError, match="NaN"):
        explain_image(toy_model.float_fn, np.full((TOY_SIZE, TOY_SIZE, 3), np.nan, np.float32), ExplainConfig())


def test_flat_image_is_explained_as_one_region(toy_model):
    flat = np.full((TOY_SIZE, TOY_SIZE, 3), 0.5, np.float32)
    explanation = explain_image(toy_model.float_fn, flat, ExplainConfig(steps=8))
    assert explanation.approximation_error < 0.05
    assert len(explanation.top_regions) == 1 and explanation.top_regions[0][:4] == (0.0, 0.0, 1.0, 1.0)


def test_frames_explained_together_get_each_their_own_explanation(toy_model):
    """Batched across frames (chunks of 5 points span frames: 2 baselines x 9 points per frame), each
    frame's IG, probability and regions are those of the frame explained alone."""
    images = [to_model_input(pixels, TOY_SIZE) for pixels, _ in _frames(3, seed=4)]
    together = explain_images(toy_model.float_fn, images, ExplainConfig(steps=8, batch_size=5))
    alone = [explain_image(toy_model.float_fn, image, ExplainConfig(steps=8, batch_size=64)) for image in images]
    assert len(together) == 3
    for batched, single in zip(together, alone, strict=True):
        scale = np.abs(single.attributions).max()
        assert np.abs(batched.attributions - single.attributions).max() < 1e-4 * scale
        assert batched.probability == pytest.approx(single.probability, abs=1e-5)
        assert batched.baseline_probabilities == pytest.approx(single.baseline_probabilities, abs=1e-5)
        assert [r[:4] for r in batched.top_regions] == [r[:4] for r in single.top_regions]
    # The frames differ, so a mix-up between them would show.
    first, second = together[0].attributions, together[1].attributions
    assert np.abs(first - second).max() > 0.1 * np.abs(first).max()
    assert explain_images(toy_model.float_fn, [], ExplainConfig()) == []


def test_a_regions_explanation_is_placed_where_the_region_is_in_the_frame():
    from firewatch.core.explain import Explanation, Region, in_frame

    attributions = np.zeros((16, 16), np.float32)
    attributions[:8, 8:] = 1.0  # the region's top-right quarter
    explanation = Explanation(
        attributions=attributions,
        approximation_error=0.0,
        flagged=False,
        baselines=("black",),
        steps=8,
        top_regions=[Region(0.5, 0.0, 1.0, 0.5, 0.9)],
        compute_ms=1.0,
        probability=0.9,
        method="ig",
    )
    placed = in_frame(explanation, (0.5, 0.5, 1.0, 1.0), (100, 200))  # the frame's bottom-right quarter
    assert placed.attributions.shape == (100, 200)
    assert placed.attributions[:50].sum() == 0 and placed.attributions[:, :100].sum() == 0
    hot = np.argwhere(placed.attributions > 0.5 * placed.attributions.max())
    assert hot[:, 0].min() >= 50 and hot[:, 0].max() < 76 and hot[:, 1].min() >= 149  # its top-right quarter
    assert placed.attributions.sum() == pytest.approx(attributions.sum(), rel=0.05)  # the total is kept
    assert placed.top_regions == [Region(0.75, 0.5, 1.0, 0.75, 0.9)]
    assert in_frame(explanation, (0.0, 0.0, 1.0, 1.0), (100, 200)) is explanation
