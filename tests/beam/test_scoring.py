"""ScoreFrames on Beam's local runner, no emulators: the model handler takes an injected loader
whose output the test controls (probability = mean red - mean blue, clipped), so every
assertion holds on any machine."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import apache_beam as beam
import numpy as np
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from PIL import Image

from firewatch.beam.scoring import ModelInfo, ScoreFrames
from firewatch.core.contract import FrameRequest, MessageLimits
from firewatch.core.explain import ExplainConfig
from firewatch.core.prediction import Prediction

SIZE = 16
INFO = ModelInfo("/models/colour", "colour-v1", SIZE, 0.5)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


class ColourModel:
    """predict_images: probability = clip(0.5 + mean(red) - mean(blue), 0, 1), exactly."""

    metadata = SimpleNamespace(model_version="colour-v1")

    def predict_images(self, images: np.ndarray) -> np.ndarray:
        return np.clip(0.5 + images[..., 0].mean(axis=(1, 2)) - images[..., 2].mean(axis=(1, 2)), 0, 1)


class BrokenModel(ColourModel):
    def predict_images(self, images: np.ndarray) -> np.ndarray:
        raise RuntimeError("the accelerator fell off")


def png(rgb: tuple[int, int, int], size: int = 24) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((size, size, 3), rgb, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def request(frame_id: str, data: bytes | None = None, uri: str | None = None) -> FrameRequest:
    return FrameRequest(camera_id="cam-1", frame_id=frame_id, image_bytes=data, uri=uri, message_id=f"m-{frame_id}")


def score(
    requests: list[FrameRequest],
    loader=lambda _: ColourModel(),
    explain: ExplainConfig | None = None,
    mode: str = "batch",
):
    pipeline = TestPipeline(runner="BundleBasedDirectRunner")
    scored = (
        pipeline
        | beam.Create(requests)
        | ScoreFrames(INFO, MessageLimits(), mode, max_batch_size=4, explain=explain, loader=loader)
    )
    return pipeline, scored


def test_predictions_are_typed_and_every_failure_is_one_dead_letter(tmp_path):
    requests = [
        request("red", png((255, 0, 0))),  # p = 1.0
        request("blue", png((0, 0, 255))),  # p = 0.0
        request("warm", png((160, 100, 120))),  # p = 0.5 + 40/255
        request("corrupt", b"\x89PNG\r\n\x1a\n broken"),
        request("missing", uri=str(tmp_path / "nowhere.png")),
    ]
    pipeline, scored = score(requests, explain=ExplainConfig(sample_rate_negatives=0.0, min_interval_seconds=0))
    keyed = scored["predictions"] | "Key" >> beam.Map(lambda p: (p.frame_id, round(p.probability, 3), p.label))
    assert_that(
        keyed,
        equal_to([("red", 1.0, "fire"), ("blue", 0.0, "no_fire"), ("warm", 0.657, "fire")]),
        label="Predictions",
    )
    typed = scored["predictions"] | "Types" >> beam.Map(lambda p: (type(p) is Prediction, p.model_version, p.mode))
    assert_that(typed, equal_to([(True, "colour-v1", "batch")] * 3), label="Typed")
    stages = scored["dead_letters"] | "Stages" >> beam.Map(lambda row: (row["stage"], row["message_id"]))
    assert_that(stages, equal_to([("decode", "m-corrupt"), ("fetch", "m-missing")]), label="DeadLetters")
    chosen = scored["to_explain"] | "Chosen" >> beam.Map(lambda e: (e[0].frame_id, e[0].explain, e[1].shape))
    assert_that(chosen, equal_to([("red", True, (SIZE, SIZE, 3)), ("warm", True, (SIZE, SIZE, 3))]), label="Explain")
    pipeline.run().wait_until_finish()


def test_a_model_failure_dead_letters_each_frame_of_the_batch():
    requests = [request(f"f{i}", png((200, 10 * i, 0))) for i in range(3)]
    pipeline, scored = score(requests, loader=lambda _: BrokenModel())
    assert_that(scored["predictions"], equal_to([]), label="NoPredictions")
    dead = scored["dead_letters"] | beam.Map(lambda row: (row["stage"], row["error_type"], row["message_id"]))
    assert_that(dead, equal_to([("inference", "RuntimeError", f"m-f{i}") for i in range(3)]), label="Dead")
    pipeline.run().wait_until_finish()


def test_batch_files_are_read_by_the_same_fetch_step(tmp_path):
    from firewatch.beam.sources import ReadFrames

    (tmp_path / "cam-7").mkdir()
    (tmp_path / "cam-7" / "a.png").write_bytes(png((250, 0, 0)))
    (tmp_path / "cam-7" / "notes.txt").write_text("not an image")
    pipeline = TestPipeline(runner="BundleBasedDirectRunner")
    read = pipeline | ReadFrames(str(tmp_path), MessageLimits(), None, None)
    scored = read["requests"] | ScoreFrames(INFO, MessageLimits(), "batch", loader=lambda _: ColourModel())
    assert_that(
        scored["predictions"] | "P" >> beam.Map(lambda p: (p.camera_id, p.source_uri.endswith("a.png"), p.label)),
        equal_to([("cam-7", True, "fire")]),
        label="Predictions",
    )
    assert_that(
        scored["dead_letters"] | "D" >> beam.Map(lambda row: (row["stage"], row["source_uri"].endswith("notes.txt"))),
        equal_to([("decode", True)]),
        label="DeadLetters",
    )
    pipeline.run().wait_until_finish()


def test_fire_frames_over_the_rate_are_counted_not_explained():
    # Streaming, one camera, three equally probable fire frames a second apart (in any order): one
    # opens the episode and is explained; the others are no new peak, inside the interval: counted,
    # not explained. (Batch has no real-time budget and explains every fire frame: tested above.)
    requests = [request(f"f{i}", png((255, 0, 0))) for i in range(3)]
    requests = [r.model_copy(update={"captured_at": T0 + timedelta(seconds=i)}) for i, r in enumerate(requests)]
    pipeline, scored = score(requests, explain=ExplainConfig(min_interval_seconds=10), mode="streaming")
    flags = scored["predictions"] | "Flags" >> beam.Map(lambda p: p.explain) | beam.combiners.Count.PerElement()
    assert_that(flags, equal_to([(True, 1), (False, 2)]))
    result = pipeline.run()
    result.wait_until_finish()
    counters = {c.key.metric.name: c.committed for c in result.metrics().query()["counters"]}
    assert counters["rate_limited"] == 2 and counters["selected"] == 1
