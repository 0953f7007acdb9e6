"""The camera-health Beam wrapper: predictions keyed by camera -> one event per change of state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import apache_beam as beam
import numpy as np
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from firewatch.beam.health import CameraHealthEvents
from firewatch.core.frame_stats import DAY, frame_stats
from firewatch.core.health import HealthConfig
from firewatch.core.prediction import Prediction

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def live(i: int) -> np.ndarray:
    base = np.random.default_rng(1).integers(30, 220, (9, 16, 3)).astype(np.float64)
    noisy = np.kron(base, np.ones((10, 10, 1))) + np.random.default_rng(100 + i).normal(0, 12, (90, 160, 3))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def prediction(camera: str, minute: int, pixels: np.ndarray | None) -> Prediction:
    return Prediction(
        frame_key=f"{camera}/{minute}",
        camera_id=camera,
        frame_id=str(minute),
        captured_at=T0 + timedelta(minutes=minute),
        processed_at=T0,
        probability=0.1,
        threshold=0.5,
        model_version="v1",
        mode="streaming",
        period=DAY,
        stats=None if pixels is None else frame_stats(pixels),
    )


def test_each_camera_gets_its_own_events_and_frames_without_statistics_are_skipped():
    black = np.zeros((90, 160, 3), np.uint8)
    frames = [prediction("cam-a", m, live(m) if m < 2 else black) for m in range(8)]
    frames += [prediction("cam-b", m, live(m)) for m in range(8)]
    frames += [prediction("cam-c", m, None) for m in range(8)]  # e.g. scored from TFRecords
    pipeline = TestPipeline(runner="BundleBasedDirectRunner")
    events = (
        pipeline
        | beam.Create(frames)
        | CameraHealthEvents(HealthConfig(reorder_seconds=0), stale_seconds=3600)
        | beam.Map(lambda e: (e["camera_id"], e["state"], e["previous_state"], e["frame_key"]))
    )
    assert_that(events, equal_to([("cam-a", "blind", "healthy", "cam-a/5")]))
    pipeline.run().wait_until_finish()
