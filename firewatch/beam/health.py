"""Beam wrapper for camera health.

`JudgeHealth` is a stateful DoFn keyed by camera_id (the same plain-text key as the
confirmation, `firewatch.beam.confirmation.keyed_by_camera`) that feeds each `Prediction`'s frame
statistics and period to the pure state machine in `firewatch.core.health` and emits its
camera-health events (camera_health-table rows); the sinks (`firewatch.beam.sinks`) write them and
publish them on the alerts topic with `event=camera_health`. Wall-clock timers, pushed back by
every frame, count the frames still in the reorder buffer when the camera goes quiet
(`flush_after_seconds`) and mark a silent camera `stale` (`stale_seconds`).
"""

from __future__ import annotations

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

from firewatch.beam.confirmation import keyed_by_camera
from firewatch.core.health import CameraHealth, HealthConfig, HealthObservation, expire, flush, step
from firewatch.core.prediction import Prediction


class JudgeHealth(beam.DoFn):
    """Stateful per camera: one `CameraHealth`, one event per change of state."""

    HEALTH = ReadModifyWriteStateSpec("health", PickleCoder())
    FLUSH = TimerSpec("health_flush", TimeDomain.REAL_TIME)
    SILENT = TimerSpec("silent", TimeDomain.REAL_TIME)

    def __init__(
        self,
        config: HealthConfig,
        stale_seconds: float,
        flush_after_seconds: float = 10.0,
        clock: Callable[[], Timestamp] | None = None,
    ) -> None:
        self._config = config
        self._stale_seconds = stale_seconds
        self._flush_after = flush_after_seconds
        self._clock = clock or Timestamp.now  # processing time; tests pass the runner's test clock
        self._events = Metrics.counter("firewatch.health", "events")

    def process(
        self,
        element: tuple[str, Prediction],
        state=beam.DoFn.StateParam(HEALTH),
        flush_timer=beam.DoFn.TimerParam(FLUSH),
        silent=beam.DoFn.TimerParam(SILENT),
    ):
        camera_id, prediction = element
        if prediction.stats is None:  # a frame scored without decode statistics (TFX records)
            return
        health = state.read() or CameraHealth()
        obs = HealthObservation(
            captured_at=prediction.event_time,
            frame_key=prediction.frame_key,
            period=prediction.period,
            stats=prediction.stats,
        )
        events = step(health, camera_id, obs, self._config, now=datetime.now(UTC))
        state.write(health)
        if health.pending:
            flush_timer.set(self._clock() + self._flush_after)
        silent.set(self._clock() + self._stale_seconds)  # pushed back by every frame
        self._events.inc(len(events))
        yield from events

    @on_timer(FLUSH)
    def on_flush(self, key=beam.DoFn.KeyParam, state=beam.DoFn.StateParam(HEALTH)):
        """The camera went quiet: count the frames still waiting in the reorder buffer."""
        health = state.read()
        if health is None or not health.pending:
            return
        events = flush(health, key, self._config, now=datetime.now(UTC))
        state.write(health)
        self._events.inc(len(events))
        yield from events

    @on_timer(SILENT)
    def on_silent(self, key=beam.DoFn.KeyParam, state=beam.DoFn.StateParam(HEALTH)):
        health = state.read()
        if health is None:
            return
        events = expire(health, key, self._config, now=datetime.now(UTC), silent_seconds=self._stale_seconds)
        state.write(health)  # kept (a few KB): the camera's reference scene, and `healthy` when it returns
        self._events.inc(len(events))
        yield from events


class CameraHealthEvents(beam.PTransform):
    """Predictions -> camera-health events (camera_health-table rows), judged per camera."""

    def __init__(
        self,
        config: HealthConfig,
        stale_seconds: float,
        flush_after_seconds: float = 10.0,
        clock: Callable[[], Timestamp] | None = None,
    ) -> None:
        super().__init__()
        self._config, self._stale_seconds, self._clock = config, stale_seconds, clock
        self._flush_after = flush_after_seconds

    def expand(self, predictions):
        return (
            predictions
            | "KeyByCamera" >> beam.Map(keyed_by_camera).with_output_types(KV[str, Any])
            | "Judge" >> beam.ParDo(JudgeHealth(self._config, self._stale_seconds, self._flush_after, self._clock))
        )
