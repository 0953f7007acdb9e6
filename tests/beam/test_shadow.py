"""Shadow scoring on Beam's local runner, no emulators: ScoreFrames' inference results go down the shadow
branch (`firewatch.beam.shadow`) with injected models whose output the test controls. The frames the
hash selects (`firewatch.core.shadow.shadow_selected`, recomputed here) get exactly one shadow row each,
scored by the version `shadow` names, naming the version that scored them on the main path; every frame
still has its one prediction; a broken shadow version costs no prediction and no dead letter."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from firewatch.beam import model_handler
from firewatch.beam.scoring import ModelInfo, ScoreFrames
from firewatch.beam.shadow import ShadowRows, ShadowScore
from firewatch.cloud import registry as store
from firewatch.core.contract import FrameRequest, MessageLimits
from firewatch.core.prediction import ScoredFrame
from firewatch.core.regions import Region, RegionOutputs
from firewatch.core.shadow import ShadowFrame, shadow_row, shadow_row_id, shadow_selected
from tests.beam.test_scoring import SIZE, ColourModel, png, request

INFO = ModelInfo("/reg/colour-v1", "colour-v1", SIZE, 0.5)


class Inverted:
    """The shadow: probability = clip(0.5 + mean(blue) - mean(red)), threshold 0.6."""

    metadata = SimpleNamespace(model_version="inverted-v2", threshold=0.6, image_size=SIZE)

    def predict_images(self, images: np.ndarray) -> np.ndarray:
        return np.clip(0.5 + images[..., 2].mean(axis=(1, 2)) - images[..., 0].mean(axis=(1, 2)), 0, 1)


class Broken(Inverted):
    """Loads (its warm-up call on zeros passes), then fails on every real frame."""

    def predict_images(self, images: np.ndarray) -> np.ndarray:
        if images.any():
            raise RuntimeError("the shadow model fell over")
        return super().predict_images(images)


def run(registry: str, requests: list[FrameRequest], shadow_model, share: float):
    def loader(model_dir: str):
        return shadow_model if model_dir.endswith("/inverted-v2") else ColourModel()

    pipeline = TestPipeline(runner="BundleBasedDirectRunner")
    scored = pipeline | beam.Create(requests) | ScoreFrames(INFO, MessageLimits(), "streaming", loader=loader)
    rows = scored["inferred"] | ShadowScore(registry, share, SIZE, "streaming", loader=loader, refresh_seconds=3600)
    return pipeline, scored, rows


def frames(n: int) -> list[FrameRequest]:
    colours = [(255, 0, 0), (0, 0, 255), (200, 100, 40)]  # main: fire, clear, fire; shadow: clear, fire, clear
    return [request(f"f{i:02d}", png(colours[i % 3])) for i in range(n)]


def test_the_chosen_share_gets_one_shadow_row_each_and_nothing_else_changes(tmp_path) -> None:
    registry = str(tmp_path / "reg")
    store.write_pointer(registry, "shadow", "inverted-v2")
    requests = frames(30)
    chosen = sorted(r.frame_id for r in requests if shadow_selected(f"cam-1/{r.frame_id}", 0.5))
    assert 5 < len(chosen) < 25  # the hash picks about half (15 expected), deterministically
    pipeline, scored, rows = run(registry, requests, Inverted(), 0.5)
    expected = [
        (f, "inverted-v2", "colour-v1", 0.6, "no_fire" if int(f[1:]) % 3 != 1 else "fire", "streaming") for f in chosen
    ]
    summary = rows | beam.Map(
        lambda r: (
            r["frame_id"],
            r["model_version"],
            r["current_model_version"],
            r["threshold"],
            r["label"],
            r["mode"],
        )
    )
    assert_that(summary, equal_to(expected), label="ShadowRows")
    blue = (
        rows
        | "Blue" >> beam.Filter(lambda r: int(r["frame_id"][1:]) % 3 == 1)
        | beam.Map(lambda r: r["fire_probability"])
    )
    assert_that(blue, equal_to([1.0] * sum(1 for f in chosen if int(f[1:]) % 3 == 1)), label="Probabilities")
    predicted = scored["predictions"] | beam.Map(lambda p: (p.frame_id, p.model_version))
    assert_that(predicted, equal_to([(r.frame_id, "colour-v1") for r in requests]), label="Predictions")
    pipeline.run().wait_until_finish()


def test_a_failing_shadow_version_costs_no_prediction_and_no_dead_letter(tmp_path) -> None:
    registry = str(tmp_path / "reg")
    store.write_pointer(registry, "shadow", "inverted-v2")
    requests = frames(12)
    failed_before = model_handler.SHADOW_EVENTS["failed_frames"]
    pipeline, scored, rows = run(registry, requests, Broken(), 1.0)
    assert_that(rows, equal_to([]), label="NoShadowRows")
    assert_that(scored["dead_letters"], equal_to([]), label="NoDeadLetters")
    predicted = scored["predictions"] | beam.Map(lambda p: p.frame_id)
    assert_that(predicted, equal_to([r.frame_id for r in requests]), label="Predictions")
    pipeline.run().wait_until_finish()
    assert model_handler.SHADOW_EVENTS["failed_frames"] - failed_before == 12


def test_without_a_shadow_version_nothing_is_shadow_scored_and_that_is_counted(tmp_path) -> None:
    registry = str(tmp_path / "reg")
    (tmp_path / "reg").mkdir()
    before = model_handler.SHADOW_EVENTS["frames_without_shadow"]
    pipeline, scored, rows = run(registry, frames(6), Inverted(), 1.0)
    assert_that(rows, equal_to([]), label="NoShadowRows")
    assert_that(scored["predictions"] | beam.Map(lambda p: 1), equal_to([1] * 6), label="Predictions")
    pipeline.run().wait_until_finish()
    assert model_handler.SHADOW_EVENTS["frames_without_shadow"] - before == 6


def test_selection_is_deterministic_and_takes_the_share() -> None:
    keys = [f"cam-{c}/frame-{i}" for c in range(4) for i in range(2500)]
    picked = [k for k in keys if shadow_selected(k, 0.1)]
    assert picked == [k for k in keys if shadow_selected(k, 0.1)]  # the same frames every time (replays)
    assert 900 <= len(picked) <= 1100  # 10 % of 10,000, within 3.3 standard deviations
    assert set(picked) <= {k for k in keys if shadow_selected(k, 0.5)}  # a larger share keeps the smaller one's
    assert not any(shadow_selected(k, 0.0) for k in keys[:100])
    assert all(shadow_selected(k, 1.0) for k in keys[:100])


def test_the_shadow_row_summarises_the_regions_like_the_main_path() -> None:
    frame = ShadowFrame(
        frame_key="cam-1/f1",
        camera_id="cam-1",
        frame_id="f1",
        captured_at=datetime(2026, 1, 1, 12, tzinfo=UTC),
        message_id="m1",
        width=200,
        height=100,
        regions=(Region(0, 0, 200, 100, 0), Region(0, 0, 100, 100, 1), Region(100, 0, 200, 100, 1)),
        current_model_version="v1",
        mode="streaming",
    )
    at = datetime(2026, 1, 1, 12, 0, 3, tzinfo=UTC)
    row = shadow_row(frame, [0.3, 0.2, 0.8], model_version="v2", threshold=0.7, scored_at=at, max_boxes=8)
    assert row["fire_probability"] == 0.8 and row["label"] == "fire" and row["threshold"] == 0.7
    assert row["fire_boxes"] == [{"x_min": 0.5, "y_min": 0.0, "x_max": 1.0, "y_max": 1.0, "probability": 0.8}]
    assert (row["captured_at"], row["scored_at"]) == ("2026-01-01T12:00:00.000000Z", "2026-01-01T12:00:03.000000Z")
    assert row["regions_scored"] == 3 and row["current_model_version"] == "v1"
    assert shadow_row_id(row) == shadow_row_id(dict(row, scored_at="later"))  # a re-score is the same insertId
    assert shadow_row_id(row) != shadow_row_id(dict(row, model_version="v3"))


def test_a_result_without_a_threshold_is_counted_not_raised() -> None:
    from apache_beam.ml.inference.base import PredictionResult

    scored = ScoredFrame(FrameRequest(camera_id="cam-1", frame_id="f1", image_bytes=b"x"), "00", 4, 4)
    frame = ShadowFrame.of(scored, "v1", "streaming")
    fn = ShadowRows(8)
    no_threshold = PredictionResult(None, RegionOutputs(np.array([0.9])), model_id="v2")
    assert list(fn.process((frame, no_threshold))) == []
    assert list(fn.process((frame, PredictionResult(None, None, model_id=None)))) == []  # `shadow` unset
    good = PredictionResult(None, RegionOutputs(np.array([0.9]), threshold=0.5), model_id="v2")
    assert [r["label"] for r in fn.process((frame, good))] == ["fire"]


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_the_share_is_a_fraction(share: float) -> None:
    from pydantic import ValidationError

    from streaming.config import StreamingConfig

    with pytest.raises(ValidationError, match="shadow_share"):
        StreamingConfig(model_registry="/reg", shadow_share=share)
