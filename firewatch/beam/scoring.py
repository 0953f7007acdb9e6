"""Scoring, shared by streaming and batch: thin Beam wrappers over the pure core.

  FrameRequest --FetchObjects--> bytes --DecodeFrames (+ the camera's exclusion mask)--> (ScoredFrame, model input)
    --RunInference(keyed FirewatchModelHandler)--> Postprocess --> Prediction

`ScoreFrames` chains them and returns (as a dict) the predictions (typed `Prediction`s, which
become rows only at the sinks), the dead letters of every stage (each failure becomes exactly
one dead-letter row, so in = predictions + dead letters), and the frames to explain
(decided once, here). Sources (`firewatch.beam.sources`) emit the `FrameRequest`s.
"""

from __future__ import annotations

import dataclasses
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam import pvalue
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import KeyedModelHandler, PredictionResult, RunInference
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec
from apache_beam.typehints import KV

from firewatch.beam.baselines import NAMESPACE as BASELINES_NAMESPACE
from firewatch.beam.baselines import BaselineCache, BaselineSource, shared_baselines
from firewatch.beam.dead_letters import DEAD, request_dead_letter
from firewatch.beam.masks import NAMESPACE as MASKS_NAMESPACE
from firewatch.beam.masks import MaskCache, MaskSource, shared_masks
from firewatch.beam.model_handler import FirewatchModelHandler
from firewatch.cloud.storage import ReadFailure, read_object
from firewatch.core.baselines import BaselineConfig, hour_of, recorded_scores, region_key, region_thresholds
from firewatch.core.contract import FrameRequest, MessageLimits
from firewatch.core.explain import ExplainConfig, chosen_for_explanation
from firewatch.core.explain_policy import decide_camera
from firewatch.core.frame_stats import frame_stats
from firewatch.core.imaging import DecodeLimits, decode_image
from firewatch.core.masks import CameraMask
from firewatch.core.period import NightConfig
from firewatch.core.prediction import Prediction, ScoredFrame, label_for
from firewatch.core.regions import (
    WHOLE_FRAME,
    Region,
    RegionConfig,
    RegionOutputs,
    cut_regions,
    summarise,
)
from firewatch.core.rows import dead_letter_for_request, sha256_hex
from firewatch.errors import UserError

EXPLAIN = "explain"
CANDIDATE = "explain_candidate"  # streaming fire frames, decided per camera by GateExplanations
MAX_BOXES = RegionConfig().max_boxes


@dataclass(frozen=True)
class ModelInfo:
    """What the pipeline needs to know about the model at construction time."""

    model_dir: str
    model_version: str
    image_size: int
    threshold: float

    @classmethod
    def read(cls, model_dir: str) -> ModelInfo:
        from firewatch.cloud.models import read_metadata

        try:
            meta = read_metadata(model_dir)
        except (FileNotFoundError, ValueError) as exc:
            raise UserError(f"--model {model_dir}: {exc}") from None
        return cls(model_dir, meta.model_version, meta.image_size, meta.threshold)


class FetchObjects(beam.DoFn):
    """Reads the bytes of gs:// (or, in batch, local) frames; inline frames pass through.

    Transient read failures are retried with backoff (`firewatch.cloud.storage.read_object`); only
    a missing, forbidden or too large object, or one still unreadable after the retries, is a dead
    letter (with its kind as error_type). `opener(uri)` replaces the file system (tests)."""

    def __init__(self, limits: MessageLimits, mode: str, opener: Callable[[str], Any] | None = None) -> None:
        self._limits = limits
        self._mode = mode
        self._opener = opener

    def setup(self) -> None:
        from firewatch.cloud.clients import prepare_beam_offline_auth

        prepare_beam_offline_auth()

    def process(self, request: FrameRequest):
        if request.image_bytes is not None or request.uri is None:
            yield request
            return
        try:
            data = read_object(request.uri, self._limits.max_object_bytes, opener=self._opener)
        except ReadFailure as failure:
            yield request_dead_letter(
                request, stage="fetch", reason=str(failure)[:2000], mode=self._mode, error_type=failure.kind
            )
            return
        if len(data) > self._limits.max_object_bytes:
            yield request_dead_letter(
                request,
                stage="fetch",
                mode=self._mode,
                error_type="object_too_large",
                reason=f"object {request.uri} is larger than {self._limits.max_object_bytes} bytes",
            )
            return
        yield request.model_copy(update={"image_bytes": data})


class DecodeFrames(beam.DoFn):
    """bytes -> (ScoredFrame, float32 model inputs [R, S, S, 3] of the frame's regions); bad images
    become 'decode' dead letters.

    The regions (`firewatch.core.regions`): the whole frame, plus full-resolution regions at the
    configured scales for frames of at least `min_frame_factor` model inputs. With `masks`, the camera's current
    exclusion mask (`firewatch.beam.masks`, re-read while the job runs) is blanked in the frame,
    regions mostly inside it are not scored, and the frame carries the mask's version to its row.
    Each frame also carries its statistics (`firewatch.core.frame_stats`: brightness, contrast,
    detail, a thumbnail), computed once here for day/night and camera health."""

    def __init__(
        self,
        limits: MessageLimits,
        image_size: int,
        mode: str,
        masks: MaskSource | None = None,
        regions: RegionConfig | None = None,
    ) -> None:
        self._limits = DecodeLimits(max_pixels=limits.max_pixels)
        self._size = image_size
        self._mode = mode
        self._regions = regions or RegionConfig()
        self._regions_planned = Metrics.distribution("firewatch", "regions_per_frame")
        self._mask_source = masks
        self._masks: MaskCache | None = None
        self._masked = Metrics.counter(MASKS_NAMESPACE, "frames_masked")
        self._refreshes = Metrics.counter(MASKS_NAMESPACE, "refreshes")
        self._refresh_failures = Metrics.counter(MASKS_NAMESPACE, "refresh_failures")

    def setup(self) -> None:
        if self._mask_source is not None:
            self._masks = shared_masks(self._mask_source)
            self._masks.wait_first()  # the first read only: later ones run in the background

    def process(self, request: FrameRequest):
        data = request.image_bytes or b""
        mask = self._mask_for(request.camera_id)
        rectangles = mask.boxes() if mask is not None else ()
        try:
            decoded = decode_image(data, self._limits)
            width, height = decoded.width, decoded.height
            stats = frame_stats(decoded.pixels)  # the whole picture, before the mask is blanked
            regions, model_input = cut_regions(decoded.pixels, self._size, self._regions, rectangles)
        except Exception as exc:  # noqa: BLE001 - ImageError, or anything unexpected: a dead letter
            yield request_dead_letter(
                request, stage="decode", reason=str(exc)[:2000], error_type=type(exc).__name__, mode=self._mode
            )
            return
        if rectangles:
            self._masked.inc()
        self._regions_planned.update(len(regions))
        # The encoded bytes stay with the frame (no copy: the same object): an explained frame
        # shows its original in the overlay, and a frame the model fails on keeps its payload.
        frame = ScoredFrame(
            request,
            sha256_hex(data),
            width,
            height,
            mask_version=mask.version if mask else None,
            regions=tuple(regions),
            stats=stats,
        )
        yield frame, model_input

    def _mask_for(self, camera_id: str | None) -> CameraMask | None:
        if self._masks is None:
            return None
        refreshes, failures = self._masks.take_counts()
        if refreshes:
            self._refreshes.inc(refreshes)
        if failures:
            self._refresh_failures.inc(failures)
        return self._masks.current().get(camera_id or "")


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


def failed_inference_rows(element: tuple[list[tuple[ScoredFrame, np.ndarray]], Any], mode: str):
    """One 'inference' dead letter per frame of a batch the model failed on. Beam's exception
    handling hands over `(batch, (exception type, repr, traceback lines))`."""
    batch, failure = element
    if isinstance(failure, tuple):
        error_type, reason = getattr(failure[0], "__name__", str(failure[0])), str(failure[1])
    else:
        error_type, reason = type(failure).__name__, str(failure)
    for frame, _ in batch:
        yield dead_letter_for_request(
            frame.request,
            stage="inference",
            reason=f"model failed on the batch: {reason}"[:2000],
            error_type=error_type,
            mode=mode,
        )


class ScoreFrames(beam.PTransform):
    """FrameRequests -> {"predictions", "dead_letters", "to_explain", "inferred"} PCollections
    ("inferred": the model's (ScoredFrame, PredictionResult) pairs, for shadow scoring's side branch).

    `loader(model_dir)` replaces the model loader (tests inject a model whose output they control);
    `masks` blanks each camera's exclusion mask before inference (`firewatch.beam.masks`);
    `model_registry` follows that registry's `current` version while the job runs
    (`firewatch.beam.model_follower`), starting from `info`'s.
    """

    def __init__(
        self,
        info: ModelInfo,
        limits: MessageLimits,
        mode: str,
        *,
        max_batch_size: int = 256,
        max_batch_wait_seconds: float = 0.0,
        explain: ExplainConfig | None = None,
        loader: Callable[[str], Any] | None = None,
        masks: MaskSource | None = None,
        regions: RegionConfig | None = None,
        baselines: BaselineSource | None = None,
        baseline_config: BaselineConfig | None = None,
        model_registry: str | None = None,
        model_refresh_seconds: float = 10.0,
        night: NightConfig | None = None,
    ) -> None:
        super().__init__()
        self._info, self._limits, self._mode = info, limits, mode
        self._registry, self._refresh = model_registry, model_refresh_seconds
        self._baselines, self._baseline_config = baselines, baseline_config
        self._night = night
        self._max_batch = max_batch_size
        self._max_wait = max_batch_wait_seconds
        self._explain = explain
        self._loader = loader
        self._masks = masks
        self._regions = regions or RegionConfig()

    def expand(self, requests):
        fetched = requests | "Fetch" >> beam.ParDo(FetchObjects(self._limits, self._mode)).with_outputs(DEAD, main="ok")
        decoded = fetched.ok | "Decode" >> beam.ParDo(
            DecodeFrames(self._limits, self._info.image_size, self._mode, self._masks, self._regions)
        ).with_outputs(DEAD, main="ok")
        handler = KeyedModelHandler(
            FirewatchModelHandler(
                self._info.model_dir,
                max_batch_size=self._max_batch,
                max_batch_duration_secs=self._max_wait,
                loader=self._loader,
                registry=self._registry,
                image_size=self._info.image_size,
                refresh_seconds=self._refresh,
            )
        )
        inferred, failed = decoded.ok | "Infer" >> RunInference(handler).with_exception_handling()
        failed_rows = failed.failed_inferences | "FailedInference" >> beam.FlatMap(
            failed_inference_rows, mode=self._mode
        )
        post = inferred | "Postprocess" >> beam.ParDo(
            Postprocess(
                self._info,
                self._mode,
                self._explain,
                self._regions.max_boxes,
                self._baselines,
                self._baseline_config,
                self._night,
            )
        ).with_outputs(EXPLAIN, CANDIDATE, main="predictions")
        dead = (fetched[DEAD], decoded[DEAD], failed_rows) | "DeadLetters" >> beam.Flatten()
        if self._mode != "streaming" or self._explain is None:
            return {
                "predictions": post.predictions,
                "dead_letters": dead,
                "to_explain": post[EXPLAIN],
                "inferred": inferred,
            }
        gated = (
            post[CANDIDATE]
            | "TypeCameraKey" >> beam.Map(lambda kv: kv).with_output_types(KV[str, Any])
            | "GateExplanations"
            >> beam.ParDo(GateExplanations(self._explain)).with_outputs(EXPLAIN, main="predictions")
        )
        predictions = (post.predictions, gated.predictions) | "AllPredictions" >> beam.Flatten()
        to_explain = (post[EXPLAIN], gated[EXPLAIN]) | "AllToExplain" >> beam.Flatten()
        return {"predictions": predictions, "dead_letters": dead, "to_explain": to_explain, "inferred": inferred}
