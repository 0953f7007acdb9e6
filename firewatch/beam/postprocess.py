"""After inference (`firewatch.beam.scoring`): a model's result becomes a `Prediction`, and the
frames to explain are chosen.

  (ScoredFrame, PredictionResult) --Postprocess--> Prediction (+ EXPLAIN, or CANDIDATE in streaming)
  (camera_id, CANDIDATE) --GateExplanations (keyed state)--> Prediction (+ EXPLAIN)

`Postprocess` judges each region by its threshold (the model's, a camera's night threshold, the
camera's baselines) and decides once which frames are explained; in streaming, the fire frames'
decision is the camera's rate policy, kept in Beam's keyed state by `GateExplanations`.
"""

from __future__ import annotations

import dataclasses
import io
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam import pvalue
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import PredictionResult
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec

from firewatch.beam.baselines import NAMESPACE as BASELINES_NAMESPACE
from firewatch.beam.baselines import BaselineCache, BaselineSource, shared_baselines
from firewatch.beam.model_info import ModelInfo
from firewatch.core.baselines import BaselineConfig, hour_of, recorded_scores, region_key, region_thresholds
from firewatch.core.explain import ExplainConfig, chosen_for_explanation
from firewatch.core.explain_policy import decide_camera
from firewatch.core.period import NightConfig
from firewatch.core.prediction import Prediction, ScoredFrame, label_for
from firewatch.core.regions import WHOLE_FRAME, Region, RegionConfig, RegionOutputs, summarise

EXPLAIN = "explain"
CANDIDATE = "explain_candidate"  # streaming fire frames, decided per camera by GateExplanations
MAX_BOXES = RegionConfig().max_boxes


class Postprocess(beam.DoFn):
    """(ScoredFrame, PredictionResult) -> Prediction; the frames chosen for explanation (decided
    here, once) also go to the 'explain' output with their model input and original pixels.

    With `baselines`, each region is judged by its own threshold, raised above what that place of
    the camera scored at this hour on quiet days (`firewatch.core.baselines`, the table re-read while
    the job runs); the row records the threshold the frame was judged by and the regions' scores."""

    def __init__(
        self,
        info: ModelInfo,
        mode: str,
        explain: ExplainConfig | None = None,
        max_boxes: int = MAX_BOXES,
        baselines: BaselineSource | None = None,
        baseline_config: BaselineConfig | None = None,
        night: NightConfig | None = None,
    ) -> None:
        self._info = info
        self._mode = mode
        self._night = night or NightConfig()
        self._explain = explain
        self._max_boxes = max_boxes
        self._baseline_source = baselines
        self._baseline_config = baseline_config or BaselineConfig()
        self._baselines: BaselineCache | None = None
        self._selected = Metrics.counter("firewatch.explain", "selected")
        self._not_selected = Metrics.counter("firewatch.explain", "not_selected")
        self._raised = Metrics.counter(BASELINES_NAMESPACE, "frames_judged_above_the_model_threshold")
        self._baseline_refreshes = Metrics.counter(BASELINES_NAMESPACE, "refreshes")
        self._baseline_failures = Metrics.counter(BASELINES_NAMESPACE, "refresh_failures")

    def setup(self) -> None:
        if self._baseline_source is not None:
            self._baselines = shared_baselines(self._baseline_source)
            self._baselines.wait_first()  # the first read only: later ones run in the background

    def process(self, element: tuple[ScoredFrame, PredictionResult]):
        frame, result = element
        model_version = result.model_id or self._info.model_version
        outputs = result.inference
        if not isinstance(outputs, RegionOutputs):  # an engine that scores the whole frame: one number
            outputs = RegionOutputs(np.atleast_1d(np.asarray(outputs, dtype=np.float64)))
        probabilities = np.asarray(outputs.probabilities, dtype=np.float64)
        width, height = max(frame.width, 1), max(frame.height, 1)
        regions = frame.regions or (Region(0, 0, width, height, WHOLE_FRAME),)
        keys = [region_key(r, width, height) for r in regions]
        model_threshold = self._info.threshold if outputs.threshold is None else outputs.threshold
        period = self._night.period(frame.stats)
        base = self._night.threshold_for(frame.request.camera_id or "", period, model_threshold)
        thresholds = self._thresholds(frame, keys, model_version, base)
        scores = summarise(regions, probabilities, thresholds, width, height, self._max_boxes, outputs.fire_maps)
        if scores.threshold > base:
            self._raised.inc()
        chosen = self._chosen(frame, scores.probability, scores.threshold)
        prediction = Prediction.of(
            frame,
            scores.probability,
            threshold=scores.threshold,
            model_version=model_version,
            mode=self._mode,
            processed_at=datetime.now(UTC),
            explain=bool(chosen),
            boxes=scores.boxes,
            regions_scored=scores.regions_scored,
            peak_box=scores.peak_box,
            region_scores=recorded_scores(keys, probabilities, self._baseline_config.record_floor),
            period=period,
        )
        # With a per-camera policy (streaming), every prediction takes the keyed path through
        # GateExplanations, candidates or not: a camera's frames must reach confirmation together,
        # not its fire frames a bundle after its clear ones (they would be too late to count).
        if not prediction.explain:
            if self._explain is not None:
                self._not_selected.inc()
            yield self._route(prediction)
            return
        # The explanation looks at the region of the peak, at the resolution it was scored at;
        # the overlay places it where that region is in the frame (prediction.peak_box).
        model_input = peak_input(result.example, scores.peak_index)
        explained = (prediction, model_input, preview_pixels(frame.request.image_bytes))
        if chosen == CANDIDATE:  # the camera's policy decides, in keyed state (GateExplanations)
            yield pvalue.TaggedOutput(CANDIDATE, (prediction.camera_id, explained))
            return
        self._selected.inc()
        yield self._route(prediction)
        yield pvalue.TaggedOutput(EXPLAIN, explained)

    def _route(self, prediction: Prediction) -> Any:
        """A prediction as Postprocess emits it: on the keyed path when gated, else as is."""
        if self._gated:
            return pvalue.TaggedOutput(CANDIDATE, (prediction.camera_id, (prediction, None, None)))
        return prediction

    @property
    def _gated(self) -> bool:
        """Whether fire frames are decided per camera by GateExplanations (streaming, a rate limit)."""
        return self._mode == "streaming" and self._explain is not None and self._explain.min_interval_seconds > 0

    def _thresholds(self, frame: ScoredFrame, keys: list[str], model_version: str, base: float) -> np.ndarray:
        """Each region's threshold: `base` (the model's; at night, the camera's night threshold when one
        is configured), raised by the camera's baselines when the job reads them."""
        camera = frame.request.camera_id or ""
        baselines = None
        if self._baselines is not None:
            refreshes, failures = self._baselines.take_counts()
            if refreshes:
                self._baseline_refreshes.inc(refreshes)
            if failures:
                self._baseline_failures.inc(failures)
            baselines = self._baselines.current().get(camera)
        hour = hour_of(frame.request.event_time or datetime.now(UTC))
        return region_thresholds(keys, hour, baselines, model_version, base, self._baseline_config)

    def _chosen(self, frame: ScoredFrame, probability: float, threshold: float) -> bool | str:
        """Decided once: in batch, every fire frame; in streaming, fire frames by the per-camera
        policy, so they are CANDIDATEs for `GateExplanations` (with `min_interval_seconds` 0, every
        fire frame); other frames by the hashed sample."""
        if self._explain is None:
            return False
        label = label_for(probability, threshold)
        if not chosen_for_explanation(frame.key, label, self._explain):
            return False
        if label not in self._explain.fire_labels:
            return True  # a sampled negative
        if self._mode != "streaming" or self._explain.min_interval_seconds <= 0:
            return True  # batch has no real-time budget: every fire frame, deterministically
        return CANDIDATE


class GateExplanations(beam.DoFn):
    """(camera_id, (Prediction, model input, preview)) of streaming fire frames -> the prediction,
    with `explain` as the camera's policy decides (`firewatch.core.explain_policy.decide_camera`),
    and the chosen frames on the EXPLAIN output. The camera's other predictions come this way too,
    as (camera_id, (Prediction, None, None)), and pass through unchanged: a camera's frames leave
    together, so confirmation sees them in the order it would without the gate.

    The policy's state is Beam's keyed state, keyed by camera: every frame of a camera is decided
    against the same state, whichever worker process scored it, so a camera is explained at most
    at the configured rate however many processes the job runs (a per-process policy would let N
    processes explain it N times as often). The wall clock is `time.time()`, comparable on every
    worker the state moves to. A fire frame it skips is counted (`firewatch.explain/rate_limited`)."""

    POLICY = ReadModifyWriteStateSpec("explain_policy", PickleCoder())

    def __init__(self, config: ExplainConfig, clock: Callable[[], float] = time.time) -> None:
        self._config = config
        self._clock = clock
        self._selected = Metrics.counter("firewatch.explain", "selected")
        self._rate_limited = Metrics.counter("firewatch.explain", "rate_limited")

    def process(self, element, state=beam.DoFn.StateParam(POLICY)):
        _camera, (prediction, model_input, preview) = element
        if model_input is None:  # not a candidate: passes through (on this path to keep the camera's order)
            yield prediction
            return
        camera_state, chosen, _reason = decide_camera(
            state.read(),
            prediction.event_time,
            prediction.probability,
            self._clock(),
            min_interval_seconds=self._config.min_interval_seconds,
            peak_margin=self._config.peak_margin,
        )
        state.write(camera_state)
        prediction = dataclasses.replace(prediction, explain=chosen)
        yield prediction
        if chosen:
            self._selected.inc()
            yield pvalue.TaggedOutput(EXPLAIN, (prediction, model_input, preview))
        else:
            self._rate_limited.inc()


def peak_input(example: Any, peak_index: int) -> np.ndarray:
    """The model input [S, S, 3] of the peak region from a frame's regions [R, S, S, 3] (or the one input)."""
    inputs = np.asarray(example)
    return inputs[peak_index] if inputs.ndim == 4 else inputs


PREVIEW_MAX_SIDE = 640


def preview_pixels(data: bytes | None, max_side: int = PREVIEW_MAX_SIDE) -> np.ndarray | None:
    """The original frame, at most `max_side` pixels on a side, for the explanation overlay."""
    if not data:
        return None
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (max_side, max_side))  # JPEG: decode at reduced scale directly
            picture = image.convert("RGB")
            picture.thumbnail((max_side, max_side))
            return np.asarray(picture)
    except Exception:  # noqa: BLE001 - the overlay then shows the model's view instead
        return None
