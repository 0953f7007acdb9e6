"""ConfirmAndAlert on Beam's streaming local runner with TestStream, no emulators: frames in
capture order or shuffled, duplicates, late frames, and the processing-time flush of a camera
that goes quiet. Predictions are typed and their probabilities are set by the test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.utils.timestamp import Timestamp

from firewatch.beam.confirmation import ConfirmAndAlert
from firewatch.core.confirm import ConfirmConfig
from firewatch.core.prediction import Prediction

T0 = datetime(2026, 11, 22, 12, tzinfo=UTC)
CONFIG = ConfirmConfig(k=3, n=5, clear_seconds=3, cooldown_seconds=60, reorder_seconds=2, flush_after_seconds=1)


def prediction(camera: str, second: int, probability: float, frame_id: str | None = None) -> Prediction:
    return Prediction(
        frame_key=f"{camera}/{frame_id or second}",
        camera_id=camera,
        frame_id=frame_id or str(second),
        captured_at=T0 + timedelta(seconds=second),
        processed_at=T0,
        probability=probability,
        threshold=0.5,
        model_version="v1",
        mode="streaming",
    )


def episode(camera: str) -> list[Prediction]:
    """4 clear, 6 fire, 6 clear frames, one second apart."""
    probabilities = [0.1] * 4 + [0.9] * 6 + [0.1] * 6
    return [prediction(camera, i, p) for i, p in enumerate(probabilities)]


def frozen_clock() -> Timestamp:
    """TestStream's processing-time clock starts at 0 and moves only with advance_processing_time;
    the DoFn cannot read it, so timers are set from 0 here (frames arrive before any advance)."""
    return Timestamp(0)


def run(stream: TestStream, config: ConfirmConfig = CONFIG):
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    pipeline = TestPipeline(runner="BundleBasedDirectRunner", options=options)
    events = pipeline | stream | ConfirmAndAlert(config, clock=frozen_clock)
    summary = events | beam.Map(lambda e: (e["camera_id"], e["event"], e["fire_frames"], e["first_frame_at"]))
    return pipeline, summary


def expected(camera: str) -> list[tuple[str, str, int, str]]:
    first = "2026-11-22T12:00:04.000000Z"
    return [(camera, "open", 3, first), (camera, "update", 5, first), (camera, "close", 6, first)]


def test_shuffled_and_duplicated_frames_give_the_in_order_alerts():
    frames = episode("cam-a")
    shuffled = [frames[i] for i in (1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14)]
    stream = TestStream().add_elements(frames[:8]).add_elements([frames[6], frames[7]])  # redelivered
    stream = stream.add_elements(frames[8:]).advance_processing_time(5).advance_watermark_to_infinity()
    pipeline, summary = run(stream)
    assert_that(summary, equal_to(expected("cam-a")), label="InOrder")
    pipeline.run().wait_until_finish()

    stream = TestStream().add_elements(shuffled[:9]).add_elements(shuffled[9:])
    pipeline, summary = run(stream.advance_processing_time(5).advance_watermark_to_infinity())
    assert_that(summary, equal_to(expected("cam-a")), label="Shuffled")
    pipeline.run().wait_until_finish()


def test_cameras_are_confirmed_independently():
    stream = TestStream().add_elements(episode("cam-fire") + [prediction("cam-clear", i, 0.2) for i in range(16)])
    pipeline, summary = run(stream.advance_processing_time(5).advance_watermark_to_infinity())
    assert_that(summary, equal_to(expected("cam-fire")), label="OnlyTheFireCamera")
    pipeline.run().wait_until_finish()


def test_a_quiet_camera_is_flushed_by_the_processing_time_timer():
    # The last frames wait in the reorder buffer (no newer frame arrives); only the flush timer
    # counts them: without it the alert would never close.
    frames = episode("cam-q")
    stream = TestStream().add_elements(frames).advance_processing_time(0.5)
    stream = stream.advance_processing_time(5).advance_watermark_to_infinity()
    pipeline, summary = run(stream)
    assert_that(summary, equal_to(expected("cam-q")), label="Flushed")
    pipeline.run().wait_until_finish()


def test_a_frame_older_than_the_window_is_not_counted():
    frames = episode("cam-l")[:12]
    late = prediction("cam-l", 3, 0.9, frame_id="late-3")  # a fire frame from before the episode
    stream = TestStream().add_elements(frames).add_elements([late]).advance_processing_time(5)
    pipeline, summary = run(stream.advance_watermark_to_infinity())
    assert_that(summary, equal_to(expected("cam-l")[:2]), label="LateIgnored")
    pipeline.run().wait_until_finish()


def test_a_silent_camera_ends_its_open_alert_as_stale_and_its_state_is_released():
    config = CONFIG.model_copy(update={"stale_seconds": 30.0})
    fire = [prediction("cam-s", i, 0.1 if i < 4 else 0.9) for i in range(8)]  # opens, then goes silent
    again = [prediction("cam-s", 100 + i, 0.9) for i in range(4)]  # back later: a fresh camera state
    stream = TestStream().add_elements(fire).advance_processing_time(5).advance_processing_time(60)
    stream = stream.add_elements(again).advance_processing_time(5).advance_processing_time(60)
    pipeline = TestPipeline(runner="BundleBasedDirectRunner", options=PipelineOptions(streaming=True))
    events = pipeline | stream.advance_watermark_to_infinity() | ConfirmAndAlert(config, clock=frozen_clock)
    assert_that(
        events | beam.Map(lambda e: (e["event"], e["fire_frames"], e["first_frame_at"][11:19])),
        # The first alert is marked stale (never closed as clear). With its state released, the
        # camera's next fire frames open a new alert at once (no cooldown from the old state),
        # which goes stale in turn: nothing stays open.
        equal_to(
            [
                ("open", 3, "12:00:04"),
                ("stale", 4, "12:00:04"),
                ("open", 3, "12:01:40"),
                ("stale", 4, "12:01:40"),
            ]
        ),
    )
    pipeline.run().wait_until_finish()


def test_predictions_firing_in_far_apart_places_do_not_confirm_and_near_ones_carry_their_box():
    from dataclasses import replace

    from firewatch.core.regions import FireBox

    left, right, top = (0.0, 0.4, 0.1, 0.5), (0.9, 0.4, 1.0, 0.5), (0.45, 0.0, 0.55, 0.1)

    def at(camera: str, second: int, box: tuple[float, float, float, float]) -> Prediction:
        return replace(prediction(camera, second, 0.9), boxes=(FireBox(box, 0.9, 2),), peak_box=box)

    scattered = [at("cam-x", i, (left, right, top)[i % 3]) for i in range(12)]
    together = [at("cam-y", i, (0.5 + 0.01 * i, 0.5, 0.6 + 0.01 * i, 0.6)) for i in range(4)]
    stream = TestStream().add_elements(scattered + together).advance_processing_time(5)
    pipeline = TestPipeline(runner="BundleBasedDirectRunner", options=PipelineOptions(streaming=True))
    events = pipeline | stream.advance_watermark_to_infinity() | ConfirmAndAlert(CONFIG, clock=frozen_clock)
    assert_that(
        events | beam.Map(lambda e: (e["camera_id"], e["event"], e["fire_frames"], e["peak_box"]["x_min"])),
        equal_to([("cam-y", "open", 3, 0.5)]),
    )
    pipeline.run().wait_until_finish()


def test_the_state_key_is_encoded_as_utf8_text_not_pickled():
    """Dataflow keys the camera's state by the encoded key: a pickled key is not stable across
    `--update` (issue 21, item 14). The coder the pipeline gives the keyed PCollection is the one
    the runner uses; its key component must be StrUtf8Coder."""
    pipeline = beam.Pipeline()
    _ = pipeline | beam.Create([prediction("cam-a", 0, 0.9)]) | ConfirmAndAlert(CONFIG)
    proto = pipeline.to_runner_api()
    components = proto.components
    [key_by] = [t for t in components.transforms.values() if t.unique_name.endswith("KeyByCamera")]
    [output] = key_by.outputs.values()
    kv_coder = components.coders[components.pcollections[output].coder_id]
    assert kv_coder.spec.urn == "beam:coder:kv:v1"
    key_coder = components.coders[kv_coder.component_coder_ids[0]]
    assert key_coder.spec.urn == "beam:coder:string_utf8:v1"
