"""Shadow scoring: a share of the frames also scored by the registry's `shadow` version, never alerting.

    ScoreFrames' (ScoredFrame, PredictionResult) pairs --SelectForShadow (hash of the frame key)-->
    (ShadowFrame, the same model input) --[Reshuffle on Dataflow]--> RunInference (the `shadow`
    follower) --ShadowRows--> shadow_predictions rows

A side branch off the main path's inference results: the shadow version scores exactly the regions
the main model scored (the model input is reused, not decoded again), and the row names the version
that scored the frame on the main path (`current_model_version`). Nothing flows back: the rows go to
their own table (`WriteResults`, "shadow_predictions"), never to confirmation, alerts or explanations.

Failures stay on the branch. A batch the shadow version fails on is logged and counted
(`firewatch.shadow/failed_frames`, `failed_batches`), not a dead letter: the frame already has its
predictions row (or its dead letter) from the main path, and a dead letter would ask an operator to
replay a frame that was not lost. While `shadow` names no version, frames chosen are counted
(`frames_without_shadow_version`) and nothing else happens. On Dataflow the branch is its own stage
(a Reshuffle), so shadow inference does not lengthen the bundles that produce the main rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import KeyedModelHandler, PredictionResult, RunInference

from firewatch.beam.model_handler import SHADOW_EVENTS, FirewatchModelHandler
from firewatch.core.prediction import ScoredFrame
from firewatch.core.regions import RegionOutputs
from firewatch.core.registry import SHADOW
from firewatch.core.shadow import ShadowFrame, shadow_row, shadow_selected

NAMESPACE = "firewatch.shadow"
_LOG = logging.getLogger(__name__)


def select_for_shadow(element: tuple[ScoredFrame, PredictionResult], share: float, mode: str) -> Iterable[Any]:
    """(ScoredFrame, the main model's result) -> (ShadowFrame, model input) for the chosen share."""
    frame, result = element
    if shadow_selected(frame.key, share):
        yield ShadowFrame.of(frame, result.model_id, mode), result.example


class ShadowRows(beam.DoFn):
    """(ShadowFrame, the shadow version's PredictionResult) -> a shadow_predictions row (none while
    `shadow` names no version: the result is then None)."""

    def __init__(self, max_boxes: int, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._max_boxes = max_boxes
        self._clock = clock
        self._rows = Metrics.counter(NAMESPACE, "rows")
        self._failed = Metrics.counter(NAMESPACE, "failed_frames")

    def process(self, element: tuple[ShadowFrame, PredictionResult]):
        frame, result = element
        outputs = result.inference
        if outputs is None:
            return
        try:
            if not isinstance(outputs, RegionOutputs) or outputs.threshold is None or not result.model_id:
                raise ValueError("the shadow model's result has no RegionOutputs with a threshold and version")
            row = shadow_row(
                frame,
                outputs.probabilities,
                model_version=str(result.model_id),
                threshold=float(outputs.threshold),
                scored_at=self._clock(),
                max_boxes=self._max_boxes,
                fire_maps=outputs.fire_maps,
            )
        except Exception as exc:  # noqa: BLE001 - a shadow failure never reaches the main path
            self._failed.inc()
            _LOG.warning("shadow scoring: frame %s has no shadow row: %s: %s", frame.frame_key, type(exc).__name__, exc)
            return
        self._rows.inc()
        yield row


class CountFailedShadowBatches(beam.DoFn):
    """Beam's failed inferences `(batch, (exception type, repr, traceback))` -> logged and counted."""

    def __init__(self) -> None:
        self._frames = Metrics.counter(NAMESPACE, "failed_frames")
        self._batches = Metrics.counter(NAMESPACE, "failed_batches")

    def process(self, element: tuple[Any, Any]) -> Iterable[Any]:
        batch, failure = element
        frames = len(batch) if isinstance(batch, list | tuple) else 1
        reason = str(failure[1]) if isinstance(failure, tuple) and len(failure) > 1 else str(failure)
        self._frames.inc(frames)
        self._batches.inc()
        SHADOW_EVENTS.update(failed_batches=1, failed_frames=frames)
        _LOG.warning("shadow scoring: a batch of %d frame(s) failed (no shadow rows): %s", frames, reason[:500])
        return ()


class ShadowScore(beam.PTransform):
    """ScoreFrames' "inferred" pairs -> shadow_predictions rows (see the module docstring).

    `loader(model_dir)` replaces the model loader (tests); `fusion_break` puts the branch in its own
    stage (Dataflow: the pipeline sets it when not on the local runner)."""

    def __init__(
        self,
        registry: str,
        share: float,
        image_size: int,
        mode: str,
        *,
        max_batch_size: int = 256,
        max_batch_wait_seconds: float = 0.0,
        refresh_seconds: float = 10.0,
        max_boxes: int = 8,
        loader: Callable[[str], Any] | None = None,
        fusion_break: bool = False,
    ) -> None:
        super().__init__()
        self._registry, self._share, self._size, self._mode = registry, share, image_size, mode
        self._max_batch, self._max_wait, self._refresh = max_batch_size, max_batch_wait_seconds, refresh_seconds
        self._max_boxes, self._loader, self._fusion_break = max_boxes, loader, fusion_break

    def expand(self, inferred):
        selected = inferred | "SelectForShadow" >> beam.FlatMap(select_for_shadow, share=self._share, mode=self._mode)
        if self._fusion_break:
            selected = selected | "ShadowStage" >> beam.Reshuffle()
        handler = KeyedModelHandler(
            FirewatchModelHandler(
                self._registry,
                max_batch_size=self._max_batch,
                max_batch_duration_secs=self._max_wait,
                loader=self._loader,
                registry=self._registry,
                image_size=self._size,
                refresh_seconds=self._refresh,
                pointer=SHADOW,
            )
        )
        scored, failed = selected | "ShadowInfer" >> RunInference(handler).with_exception_handling()
        failed.failed_inferences | "CountFailedShadowBatches" >> beam.ParDo(CountFailedShadowBatches())
        return scored | "ShadowRows" >> beam.ParDo(ShadowRows(self._max_boxes))
