"""Beam wrapper for fire confirmation.

`ConfirmFire` is a stateful DoFn keyed by camera_id that feeds each `Prediction` to the pure
state machine in `firewatch.core.confirm` and emits alert events (alerts-table rows); the
sinks (`firewatch.beam.sinks`) write and publish them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.typehints import KV
from apache_beam.utils.timestamp import Timestamp

from firewatch.core.confirm import STALE, CameraState, ConfirmConfig, FrameObservation, expire, flush, step
from firewatch.core.overlay import overlay_uri
from firewatch.core.prediction import Prediction

_LOG = logging.getLogger(__name__)


def keyed_by_camera(prediction: Prediction) -> tuple[str, Prediction]:
    """(camera_id, prediction): the state key is plain text, so the runner encodes it with a
    deterministic coder (StrUtf8Coder), the same bytes after `--update`, not a pickle."""
    return str(prediction.camera_id), prediction


class ConfirmFire(beam.DoFn):
    """Stateful per camera: counts frames in time order; a wall-clock timer flushes frames
    still waiting in the reorder buffer when a camera goes quiet."""

    CAMERA_STATE = ReadModifyWriteStateSpec("camera", PickleCoder())
    FLUSH = TimerSpec("flush", TimeDomain.REAL_TIME)
    IDLE = TimerSpec("idle", TimeDomain.REAL_TIME)

    def __init__(
        self,
        config: ConfirmConfig,
        explanations_prefix: str | None = None,
        clock: Callable[[], Timestamp] | None = None,
    ) -> None:
        self._config = config
        self._prefix = explanations_prefix
        self._clock = clock or Timestamp.now  # processing time; tests pass the runner's test clock
        self._released = Metrics.counter("firewatch.confirm", "cameras_released")
        self._stale = Metrics.counter("firewatch.confirm", "stale_alerts")

    def _uri_for(self, frame_key: str, model_version: str) -> str | None:
        return overlay_uri(self._prefix, model_version, frame_key) if self._prefix and frame_key else None

    def process(
        self,
        element: tuple[str, Prediction],
        state=beam.DoFn.StateParam(CAMERA_STATE),
        timer=beam.DoFn.TimerParam(FLUSH),
        idle=beam.DoFn.TimerParam(IDLE),
    ):
        camera_id, prediction = element
        camera = state.read() or CameraState()
        events = step(
            camera,
            camera_id,
            FrameObservation.of(prediction),
            self._config,
            now=datetime.now(UTC),
            explanation_uri_for=self._uri_for,
        )
        state.write(camera)
        if camera.pending:
            timer.set(self._clock() + self._config.flush_after_seconds)
        idle.set(self._clock() + self._config.stale_seconds)  # pushed back by every frame
        yield from events

    @on_timer(FLUSH)
    def on_flush(self, key=beam.DoFn.KeyParam, state=beam.DoFn.StateParam(CAMERA_STATE)):
        camera = state.read()
        if camera is None or not camera.pending:
            return
        events = flush(camera, key, self._config, now=datetime.now(UTC), explanation_uri_for=self._uri_for)
        state.write(camera)
        yield from events

    @on_timer(IDLE)
    def on_idle(self, key=beam.DoFn.KeyParam, state=beam.DoFn.StateParam(CAMERA_STATE)):
        """The camera has been silent for stale_seconds: end an open alert as stale, release its state."""
        camera = state.read()
        if camera is None:
            return
        events = expire(camera, key, self._config, now=datetime.now(UTC), explanation_uri_for=self._uri_for)
        state.clear()
        self._released.inc()
        self._stale.inc(sum(1 for e in events if e["event"] == STALE))
        _LOG.info("camera %s silent for %.0f s: state released", key, self._config.stale_seconds)
        yield from events


class ConfirmAndAlert(beam.PTransform):
    """Predictions -> alert events (alerts-table rows, one PCollection), confirmed per camera."""

    def __init__(
        self,
        config: ConfirmConfig,
        explanations_prefix: str | None = None,
        clock: Callable[[], Timestamp] | None = None,
    ) -> None:
        super().__init__()
        self._config = config
        self._prefix = explanations_prefix
        self._clock = clock

    def expand(self, rows):
        return (
            rows
            | "KeyByCamera" >> beam.Map(keyed_by_camera).with_output_types(KV[str, Any])
            | "Confirm" >> beam.ParDo(ConfirmFire(self._config, self._prefix, self._clock))
        )
