"""The registry follower: swaps to the version `current` names between batches, keeps the old one when
the new one fails to load (counted), and the handler scores each batch with exactly one version."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from firewatch.beam import model_handler
from firewatch.beam.model_follower import ModelFollower
from firewatch.beam.model_handler import FirewatchModelHandler
from firewatch.cloud import registry as store


@dataclass
class Meta:
    model_version: str
    threshold: float = 0.5
    image_size: int = 4


class FakeModel:
    def __init__(self, version: str, value: float, threshold: float = 0.5, image_size: int = 4) -> None:
        self.metadata = Meta(version, threshold, image_size)
        self.value = value

    def predict_images(self, images):
        return np.full(len(images), self.value, np.float32)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


MODELS = {
    "v1": FakeModel("v1", 0.1),
    "v2": FakeModel("v2", 0.2, threshold=0.7),
    "big": FakeModel("big", 0.3, image_size=8),
}


def loader(model_dir: str):
    version = model_dir.rstrip("/").split("/")[-1]
    if version not in MODELS:
        raise OSError(f"{model_dir} has no saved_model.pb")
    return MODELS[version]


def follower(pointer: dict, clock: Clock, **kwargs) -> ModelFollower:
    return ModelFollower(
        "/reg",
        image_size=4,
        loader=loader,
        initial=MODELS["v1"],
        refresh_seconds=10,
        clock=clock,
        read_pointer=lambda registry: pointer["current"],
        **kwargs,
    )


def test_swaps_to_the_new_current_and_keeps_the_old_one_when_the_new_fails() -> None:
    pointer, clock = {"current": "v1"}, Clock()
    f = follower(pointer, clock)
    assert f.check_now() and f.version == "v1" and f.take_counts() == (0, 0)
    pointer["current"] = "v2"
    assert f.check_now() and f.current() is MODELS["v2"]
    assert f.take_counts() == (1, 0)
    pointer["current"] = "v3"  # broken: not switched to, counted once, not retried at every check
    assert not f.check_now() and f.version == "v2"
    assert not f.check_now()
    assert f.take_counts() == (0, 1)
    assert "v3" in f.last_error and "saved_model.pb" in f.last_error
    pointer["current"] = "big"  # another input size than the job's
    assert not f.check_now() and f.version == "v2" and "input size 8" in f.last_error
    pointer["current"] = "v1"  # rollback
    assert f.check_now() and f.version == "v1"


def test_current_checks_in_the_background_only_when_due() -> None:
    pointer, clock = {"current": "v2"}, Clock()
    f = follower(pointer, clock)
    assert f.current() is MODELS["v1"]  # not due yet: no check
    clock.now = 10
    assert f.current() is MODELS["v1"]  # starts the check; this batch keeps the model it had
    f._checking.join(5)
    assert f.current() is MODELS["v2"]


def test_the_handler_scores_each_batch_with_one_version_and_names_it(tmp_path: Path) -> None:
    registry = tmp_path / "reg"
    for name in ("v1", "v2"):
        (registry / name).mkdir(parents=True)
    store.write_pointer(str(registry), "current", "v1")
    handler = FirewatchModelHandler(
        str(registry / "v1"), loader=loader, registry=str(registry), image_size=4, refresh_seconds=3600
    )
    model = handler.load_model()
    batch = [np.zeros((4, 4, 3), np.float32), np.zeros((2, 4, 4, 3), np.float32)]
    first = list(handler.run_inference(batch, model))
    assert [(r.model_id, r.inference.threshold) for r in first] == [("v1", 0.5), ("v1", 0.5)]
    store.write_pointer(str(registry), "current", "v2")
    assert model.check_now()
    swaps = model_handler.MODEL_EVENTS["swaps"]
    second = list(handler.run_inference(batch, model))
    assert model_handler.MODEL_EVENTS["swaps"] == swaps + 1  # printed when a local job stops
    assert [(r.model_id, r.inference.threshold) for r in second] == [("v2", 0.7), ("v2", 0.7)]
    assert [len(r.inference.probabilities) for r in second] == [1, 2]
    assert float(second[1].inference.probabilities[0]) == pytest.approx(0.2)


def test_a_registry_pointer_file_round_trips(tmp_path: Path) -> None:
    store.write_pointer(str(tmp_path), "current", "v7")
    assert (tmp_path / "current").read_text() == "v7\n"
    assert store.read_pointer(str(tmp_path), "current") == "v7"
    assert store.read_pointer(str(tmp_path), "shadow") is None
    (tmp_path / "current").write_text("../etc")
    with pytest.raises(ValueError, match="not a usable model version"):
        store.read_pointer(str(tmp_path), "current")
    assert json.loads(json.dumps(store.list_versions(str(tmp_path)))) == []


def test_a_frame_is_judged_by_the_threshold_of_the_version_that_scored_it() -> None:
    from apache_beam.ml.inference.base import PredictionResult

    from firewatch.beam.postprocess import Postprocess
    from firewatch.beam.scoring import ModelInfo
    from firewatch.core.contract import FrameRequest
    from firewatch.core.prediction import ScoredFrame
    from firewatch.core.regions import RegionOutputs

    post = Postprocess(ModelInfo("/reg/v1", "v1", 4, 0.5), "streaming")
    frame = ScoredFrame(FrameRequest(camera_id="cam-1", frame_id="f1", image_bytes=b"x"), "00", 4, 4)

    def judged(version: str, threshold: float | None):
        outputs = RegionOutputs(np.array([0.6], np.float32), threshold=threshold)
        (prediction,) = post.process((frame, PredictionResult(np.zeros((4, 4, 3)), outputs, model_id=version)))
        return prediction.model_version, prediction.threshold, prediction.label

    assert judged("v1", None) == ("v1", 0.5, "fire")  # the job's model's threshold
    assert judged("v2", 0.7) == ("v2", 0.7, "no_fire")  # v2 was exported with 0.7: 0.6 is below it


def test_a_shadow_follower_starts_empty_follows_the_pointer_and_stops_when_it_is_cleared() -> None:
    pointer, clock = {"shadow": None}, Clock()
    f = ModelFollower(
        "/reg",
        image_size=4,
        loader=loader,
        initial=None,
        clock=clock,
        read_pointer=lambda registry: pointer["shadow"],
        pointer="shadow",
        clears=True,
    )
    assert not f.check_now() and f.current() is None and f.version is None
    pointer["shadow"] = "v2"
    assert f.check_now() and f.current() is MODELS["v2"] and f.take_counts() == (1, 0)
    pointer["shadow"] = None  # `firewatch model shadow REGISTRY none`
    assert not f.check_now() and f.current() is None and f.version is None
