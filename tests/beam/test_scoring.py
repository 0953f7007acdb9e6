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
from firewatch.core.period import NightConfig
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


def request(frame_id: str, data: bytes | None = None, uri: str | None = None, camera_id: str = "cam-1") -> FrameRequest:
    return FrameRequest(camera_id=camera_id, frame_id=frame_id, image_bytes=data, uri=uri, message_id=f"m-{frame_id}")


def score(
    requests: list[FrameRequest],
    loader=lambda _: ColourModel(),
    explain: ExplainConfig | None = None,
    mode: str = "batch",
    night: NightConfig | None = None,
):
    pipeline = TestPipeline(runner="BundleBasedDirectRunner")
    scored = (
        pipeline
        | beam.Create(requests)
        | ScoreFrames(INFO, MessageLimits(), mode, max_batch_size=4, explain=explain, loader=loader, night=night)
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


# Both score 0.5 + 50/255 = 0.696 (fire at the model's 0.5); one is dark (night), one bright (day).
NIGHT_FRAME, DAY_FRAME = png((60, 20, 10)), png((200, 160, 150))


def check_night_and_day(night: NightConfig | None, expected: list[tuple]) -> None:
    requests = [
        request(f"{camera}-{period}", data, camera_id=camera)
        for camera in ("cam-1", "cam-2")
        for period, data in (("night", NIGHT_FRAME), ("day", DAY_FRAME))
    ]
    pipeline, scored = score(requests, night=night)
    judged = scored["predictions"] | "Judged" >> beam.Map(lambda p: (p.frame_id, p.period, p.threshold, p.label))
    assert_that(judged, equal_to(expected))
    pipeline.run().wait_until_finish()


def test_every_prediction_records_day_or_night_and_carries_its_frame_statistics():
    pipeline, scored = score([request("night", NIGHT_FRAME), request("day", DAY_FRAME)])
    judged = scored["predictions"] | beam.Map(lambda p: (p.frame_id, p.period, p.stats is not None))
    assert_that(judged, equal_to([("night", "night", True), ("day", "day", True)]))
    pipeline.run().wait_until_finish()


def test_without_night_thresholds_night_frames_are_judged_as_day_ones():
    check_night_and_day(
        None,
        [
            ("cam-1-day", "day", 0.5, "fire"),
            ("cam-1-night", "night", 0.5, "fire"),
            ("cam-2-day", "day", 0.5, "fire"),
            ("cam-2-night", "night", 0.5, "fire"),
        ],
    )


def test_night_thresholds_change_the_night_frames_labels_only():
    check_night_and_day(
        NightConfig(threshold=0.7, camera_thresholds=("cam-1=0.9",)),
        [
            ("cam-1-day", "day", 0.5, "fire"),
            ("cam-1-night", "night", 0.9, "no_fire"),  # the camera's own night threshold
            ("cam-2-day", "day", 0.5, "fire"),
            ("cam-2-night", "night", 0.7, "no_fire"),  # the global night threshold
        ],
    )


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


def frame_with_patch(width: int, height: int, box: tuple[int, int, int, int]) -> bytes:
    """A blue frame with one red patch (x0, y0, x1, y1): fire for ColourModel only where red dominates."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[..., 2] = 60
    x0, y0, x1, y1 = box
    pixels[y0:y1, x0:x1] = (255, 0, 0)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_small_fire_is_found_by_its_region_and_its_box_says_where():
    from firewatch.core.regions import RegionConfig, contains

    # 192 x 128 frame, 16-px model: the whole frame is clear (p ~ 0.28), a region holding the patch is not.
    data = frame_with_patch(192, 128, (140, 90, 156, 106))
    pipeline = TestPipeline(runner="BundleBasedDirectRunner")
    frames = [request("small", data), request("whole-only", data)]
    scored = {}
    for name, regions in (("regions", RegionConfig(scales=(0.25,))), ("whole", RegionConfig(enabled=False))):
        scored[name] = (
            pipeline
            | f"Create{name}" >> beam.Create(frames[:1] if name == "regions" else frames[1:])
            | f"Score{name}"
            >> ScoreFrames(INFO, MessageLimits(), "batch", loader=lambda _: ColourModel(), regions=regions)
        )

    def check_regions(predictions):
        (p,) = predictions
        assert p.label == "fire" and p.regions_scored > 20
        x0, y0, x1, y1 = p.boxes[0].box
        assert contains(p.boxes[0].box, (140 / 192, 90 / 128, 156 / 192, 106 / 128), share=0.8)  # the patch, mostly
        assert (x1 - x0) * (y1 - y0) < 0.1  # a small part of the frame, not the whole of it
        assert p.peak_box == p.boxes[0].box

    def check_whole(predictions):
        (p,) = predictions
        assert p.label == "no_fire" and p.regions_scored == 1 and p.boxes == ()

    assert_that(scored["regions"]["predictions"], check_regions, label="Regions")
    assert_that(scored["whole"]["predictions"], check_whole, label="Whole")
    pipeline.run().wait_until_finish()


def test_the_handler_batches_the_regions_of_several_frames_and_gives_each_frame_its_own():
    from firewatch.beam.model_handler import FirewatchModelHandler, regions_in

    class Recording(ColourModel):
        calls: list[int] = []

        def predict_images(self, images):
            self.calls.append(len(images))
            return super().predict_images(images)

    model = Recording()
    handler = FirewatchModelHandler("/m", loader=lambda _: model)
    red = np.zeros((SIZE, SIZE, 3), np.float32)
    red[..., 0] = 1.0
    blue = np.zeros((SIZE, SIZE, 3), np.float32)
    frames = [np.stack([blue, red, blue]), red, np.stack([blue] * 5)]
    results = list(handler.run_inference(frames, model))
    assert model.calls == [9]  # one model call for the 3 + 1 + 5 regions
    assert [r.inference.probabilities.tolist() for r in results] == [[0.5, 1.0, 0.5], [1.0], [0.5] * 5]
    assert all(r.inference.fire_maps is None for r in results)  # a model without locate_images
    assert [regions_in(("key", f)) for f in frames] == [3, 1, 5]
    assert handler.batch_elements_kwargs()["element_size_fn"] is regions_in

    # Beam's stateful batching (max_batch_duration_secs) counts frames: the regions are split so
    # that no model call exceeds max_batch_size, and every frame still gets its own.
    model.calls.clear()
    capped = FirewatchModelHandler("/m", max_batch_size=4, max_batch_duration_secs=1.0, loader=lambda _: model)
    results = list(capped.run_inference(frames, model))
    assert model.calls == [4, 4, 1]
    assert [r.inference.probabilities.tolist() for r in results] == [[0.5, 1.0, 0.5], [1.0], [0.5] * 5]
