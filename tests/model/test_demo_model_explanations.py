"""Explanations of the real exported demo model (synthetic data, `demo_model_dir` fixture).

Completeness error below 0.05, the top XRAI region on the drawn flame far more often than a
random box of the same size, and ExplainFrames with the default loader (firewatch.core.model_contract).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import apache_beam as beam
import numpy as np
import pytest
from PIL import Image

from firewatch.beam.dead_letters import DEAD as DEAD_LETTER_TAG
from firewatch.beam.explanation import ExplainFrames
from firewatch.core.explain import ExplainConfig, explain_image
from firewatch.core.imaging import to_model_input
from firewatch.core.prediction import Prediction
from tests.fixtures.regions import box_hit, chance_hit_rate
from tests.fixtures.schema_check import check_row, load_schema


@pytest.fixture(scope="module")
def demo_model(demo_model_dir: Path):
    from firewatch.cloud.models import load_exported

    return load_exported(str(demo_model_dir))


def _fire_frames(count: int, seed: int, size: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(original uint8, model input, flame mask at model size) for synthetic fire frames."""
    from model.data.synth import render_fire_frame

    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        pixels, flame = render_fire_frame(rng)
        mask_image = np.repeat(flame[..., None], 3, axis=-1).astype(np.uint8) * 255
        frames.append((pixels, to_model_input(pixels, size), to_model_input(mask_image, size)[..., 0] > 0.5))
    return frames


def test_completeness_error_below_tolerance_on_demo_model(demo_model):
    size = demo_model.metadata.image_size
    frames = _fire_frames(4, seed=11, size=size)
    expected = demo_model.predict_images(np.stack([f[1] for f in frames]))
    for (_, image, _), probability in zip(frames, expected, strict=True):
        explanation = explain_image(demo_model.float_fn, image, ExplainConfig())
        assert explanation.probability == pytest.approx(float(probability), abs=1e-4)
        assert explanation.approximation_error < 0.05 and not explanation.flagged
        recomputed = abs(
            float(explanation.attributions.sum())
            - (explanation.probability - np.mean(explanation.baseline_probabilities))
        )
        assert explanation.approximation_error == pytest.approx(recomputed, abs=1e-6)
        assert explanation.attributions.shape == (size, size) and len(explanation.top_regions) == 3


def test_top_region_overlaps_the_flame_far_more_often_than_chance(demo_model):
    size = demo_model.metadata.image_size
    frames = _fire_frames(10, seed=21, size=size)
    labels = demo_model.labels_for(demo_model.predict_images(np.stack([f[1] for f in frames])))
    hits, chance = [], []
    for (_, image, flame), label in zip(frames, labels, strict=True):
        if label != "fire":  # the pipeline explains frames classified fire
            continue
        top = explain_image(demo_model.float_fn, image, ExplainConfig()).top_regions[0]
        hits.append(box_hit(top, flame))
        chance.append(chance_hit_rate(top, flame))
    assert len(hits) >= 8
    assert np.mean(hits) >= 0.7
    assert np.mean(hits) >= np.mean(chance) + 0.4


def test_explain_frames_with_the_exported_model(tmp_path: Path, demo_model_dir: Path, demo_model):
    size = demo_model.metadata.image_size
    original, image, _ = _fire_frames(1, seed=31, size=size)[0]
    row = Prediction(
        frame_key="cam-7/f1",
        camera_id="cam-7",
        frame_id="f1",
        captured_at=None,
        processed_at=datetime(2026, 11, 22, tzinfo=UTC),
        probability=0.9,
        threshold=0.5,
        model_version=demo_model.metadata.model_version,
        mode="streaming",
        explain=True,
    )
    prefix = str(tmp_path / "explanations")
    pipeline = beam.Pipeline(runner="BundleBasedDirectRunner")
    outputs = (
        pipeline
        | beam.Create([(row, image, original)], reshuffle=False)
        | beam.ParDo(ExplainFrames(str(demo_model_dir), prefix, ExplainConfig(), "streaming")).with_outputs(
            DEAD_LETTER_TAG, main="rows"
        )
    )
    outputs.rows | beam.Map(json.dumps) | beam.io.WriteToText(str(tmp_path / "rows"), shard_name_template="")
    pipeline.run().wait_until_finish()
    (explanation,) = [json.loads(line) for line in (tmp_path / "rows").read_text().splitlines()]
    check_row(explanation, load_schema("explanations"))
    assert explanation["model_version"] == demo_model.metadata.model_version
    assert explanation["approximation_error"] < 0.05
    # the probability is the model's own (whatever this machine's model scores), not a fixed value
    assert explanation["fire_probability"] == pytest.approx(float(demo_model.predict_images(image[None])[0]), abs=1e-4)
    with Image.open(explanation["overlay_uri"]) as picture:
        assert picture.format == "PNG" and picture.width >= 2 * 256
        # the overlay_uri is under the prefix, in the model version's folder
        assert Path(explanation["overlay_uri"]).parent == Path(prefix) / demo_model.metadata.model_version
