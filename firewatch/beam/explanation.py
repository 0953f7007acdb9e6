"""Beam wrapper for explanations: `ExplainFrames` turns predicted frames into explanation rows.

It runs on its own branch of the pipeline, after a fusion break (`Reshuffle`: on Dataflow a stage
of its own). Its cost (about half a second of CPU per explained frame) is taken from what scoring
leaves: the IG + XRAI computation runs in a child process at the lowest CPU priority
(`firewatch.beam.explain_process`, one per worker process, its own copy of the model), so it
shares no interpreter lock with scoring; with `separate_process` off (or a model loader given,
as tests do) it runs on one background thread per process at the lowest priority, with one
shared model (`apache_beam.utils.shared`). The overlay and its upload stay in the worker. Frames
waiting at the same time (several runner threads, a burst) are explained together: their
Integrated Gradients share the model calls (`firewatch.beam.batching_worker`,
`firewatch.core.explain.explain_images`). Which frames come here is decided at scoring
(`firewatch.core.explain_policy`). Input elements are
`(Prediction, model_input float32 [S, S, 3], original uint8 [H, W, 3] or None)`; without the
original the overlay shows the model's view of the frame.
For each frame it receives (chosen at scoring: fire frames by the per-camera policy, plus a sample of
the rest decided by a hash of the frame key, so retries choose the same frames), it

* computes Integrated Gradients + XRAI regions (`firewatch.core.explain.explain_images`),
* writes the overlay PNG (`firewatch.core.overlay.render_overlay`) to
  `firewatch.core.overlay.overlay_uri(output_prefix, model_version, frame_key)`, create-only
  (`firewatch.cloud.storage.write_new_object`: on gs:// `ifGenerationMatch=0`, a 412 meaning a
  retried bundle already wrote it, so workers need no overwrite permission; local paths through
  Beam's `FileSystems`); alerts compute their peak frame's explanation URI with the same function,
* yields one row of the explanations table (infra/schemas/explanations.json),
* records the time spent in the Distribution metric `firewatch.explain/explain_ms`.

A frame that cannot be explained goes to the tagged output `dead_letter` (stage "explain")
instead of failing the pipeline.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam import pvalue
from apache_beam.metrics import Metrics
from apache_beam.utils import shared

from firewatch.beam.batching_worker import BatchingWorker
from firewatch.beam.dead_letters import DEAD
from firewatch.beam.explain_process import explain_in_child, warm_up_child
from firewatch.cloud.storage import write_new_object
from firewatch.core.attribution import warm_up
from firewatch.core.contract import first_line
from firewatch.core.explain import ExplainConfig, Explanation, explain_images, in_frame
from firewatch.core.overlay import overlay_uri, render_overlay
from firewatch.core.prediction import Prediction
from firewatch.core.rows import dead_letter_row, explanation_row

METRICS_NAMESPACE = "firewatch.explain"
_LOG = logging.getLogger(__name__)

ModelLoader = Callable[[str], Any]  # model_dir -> object with .float_fn and .metadata.model_version


def _default_loader(model_dir: str) -> Any:
    from firewatch.cloud.models import allow_gpu_memory_growth, load_exported  # lazy: no TF without explaining

    allow_gpu_memory_growth()  # this process's inference shares the GPU
    return load_exported(model_dir)


class _Held:
    """The explaining model, warmed up, as one per-process object (`Shared` needs a weak-referenceable one)."""

    def __init__(self, model: Any) -> None:
        self.model = model


# Beam's `Shared` keeps alive only the object acquired last when no DoFn refers to it; RunInference
# acquires its own model in the same process, and the local runner makes a new DoFn copy per bundle,
# so the explaining model would be loaded again and again: the process holds it here as well.
_HELD: dict[str, _Held] = {}


_PRELOADED: dict[str, _Held] = {}


def preload(model_dir: str, separate_process: bool = True) -> None:
    """Load and warm up the explaining model now (the local runner calls it before the pipeline
    starts), so that the first fire frame does not pay seconds of loading and tracing while
    frames of every camera wait; in the explaining child process when explanations run there."""
    if separate_process:
        warm_up_child(model_dir)
        return
    if model_dir not in _PRELOADED:
        model = _default_loader(model_dir)
        warm_up(model.float_fn)
        _PRELOADED[model_dir] = _Held(model)


def shared_model(handle: shared.Shared, model_dir: str, loader: ModelLoader | None) -> Any:
    """One loaded and warmed-up explaining model per worker process and model directory."""

    def load() -> _Held:
        if loader is None and model_dir in _PRELOADED:
            return _PRELOADED[model_dir]
        model = (loader or _default_loader)(model_dir)
        warm_up(model.float_fn)
        return _Held(model)

    held = handle.acquire(load, tag=model_dir)
    _HELD[model_dir] = held
    return held.model


class ExplainFrames(beam.DoFn):
    """(Prediction, model_input, original or None) -> explanation rows; failures -> DEAD."""

    def __init__(
        self,
        model_dir: str,
        output_prefix: str,
        config: ExplainConfig | None = None,
        mode: str = "batch",
        loader: ModelLoader | None = None,
    ) -> None:
        if mode not in ("streaming", "batch"):
            raise ValueError(f"mode must be 'streaming' or 'batch', got {mode!r}")
        if not output_prefix:
            raise ValueError("output_prefix is empty: give a folder or gs:// prefix for the overlay PNGs")
        self._model_dir = model_dir
        self._output_prefix = output_prefix
        self._config = config or ExplainConfig()
        self._mode = mode
        self._loader = loader
        self._shared = shared.Shared()
        self._model: Any = None
        self._model_version = ""
        self._explain_ms = Metrics.distribution(METRICS_NAMESPACE, "explain_ms")
        self._explained = Metrics.counter(METRICS_NAMESPACE, "explained")
        self._flagged = Metrics.counter(METRICS_NAMESPACE, "approximation_flagged")
        self._failed = Metrics.counter(METRICS_NAMESPACE, "failed")

    def setup(self) -> None:
        if self._in_child:
            return  # nothing to load here (the local runner sets a DoFn up per bundle): the child has the model
        self._model = shared_model(self._shared, self._model_dir, self._loader)
        self._model_version = str(self._model.metadata.model_version)

    def _version(self, prediction: Prediction) -> str:
        """The explaining model's version: in the child's case the version that scored the frame (the
        child loads the same model directory), which is also what the alerts' overlay URIs use."""
        return self._model_version or prediction.model_version

    @property
    def _in_child(self) -> bool:
        """Explanations run in the child process unless told otherwise or given a model loader (tests)."""
        return self._config.separate_process and self._loader is None

    def process(self, element: tuple[Prediction, np.ndarray, np.ndarray | None]) -> Iterator[Any]:
        prediction, model_input, original = element
        frame_key = prediction.frame_key
        start = time.perf_counter()
        try:
            model_version = self._version(prediction)
            key = (self._model_dir if self._in_child else id(self._model), self._config, self._output_prefix)
            worker = background(self._config.frames_per_batch)
            explanation, uri = worker.submit(key, element, self._explain_batch).result()
        except Exception as exc:  # noqa: BLE001 - one bad frame must not fail the pipeline
            self._failed.inc()
            _LOG.warning("could not explain frame %s: %s", frame_key, exc)
            yield pvalue.TaggedOutput(DEAD, self._dead_letter(prediction, exc))
            return
        elapsed_ms = (time.perf_counter() - start) * 1000.0
        self._explain_ms.update(int(round(elapsed_ms)))
        self._explained.inc()
        if explanation.flagged:
            self._flagged.inc()
        yield explanation_row(prediction, explanation, model_version, uri, self._mode, datetime.now(UTC))

    def _explain_batch(self, elements: list[tuple[Prediction, np.ndarray, np.ndarray | None]]):
        """Explanations of the frames waiting together (IG in one pass), then each one's overlay and
        upload; on the background thread (metrics stay with the callers). An explanation's
        `compute_ms` is its share of the IG pass, its XRAI, overlay and upload: the frame's full cost."""
        inputs = [element[1] for element in elements]
        if self._in_child:
            explanations = explain_in_child(self._model_dir, inputs, self._config)
        else:
            explanations = explain_images(self._model.float_fn, inputs, self._config)
        results = []
        for (prediction, model_input, original), region_explanation in zip(elements, explanations, strict=True):
            start = time.perf_counter()
            explanation = self._in_frame(prediction, region_explanation, original)
            uri = self._write_overlay(prediction, model_input, original, explanation)
            explanation.compute_ms += (time.perf_counter() - start) * 1000.0
            results.append((explanation, uri))
        return results

    @staticmethod
    def _in_frame(prediction: Prediction, explanation: Explanation, original: np.ndarray | None) -> Explanation:
        """A region's explanation placed where the region is in the frame (its top regions in frame
        coordinates, for the row too); without the original the overlay shows the region as scored."""
        if original is None:
            return explanation
        return in_frame(explanation, prediction.peak_box, original.shape[:2])

    def _write_overlay(
        self, prediction: Prediction, model_input: np.ndarray, original: np.ndarray | None, explanation: Explanation
    ) -> str:
        model_version = self._version(prediction)
        picture = original if original is not None else model_input_to_uint8(model_input)
        title = f"p(fire)={explanation.probability:.2f}  IG {explanation.steps} steps + XRAI"
        png = render_overlay(picture, explanation.attributions, explanation.top_regions, title=title)
        uri = overlay_uri(self._output_prefix, model_version, prediction.frame_key)
        # Create-only: a retried bundle finds its overlay there (same name, same frame) and moves on;
        # the workers may create objects, not overwrite them (issue 21, item 10).
        write_new_object(uri, png, "image/png")
        return uri

    def _dead_letter(self, prediction: Prediction, exc: BaseException) -> dict[str, Any]:
        return dead_letter_row(
            stage="explain",
            reason=f"could not explain frame {prediction.frame_key!r}: {first_line(exc)}",
            error_type=type(exc).__name__,
            mode=self._mode,
            message_id=prediction.message_id,
            camera_id=prediction.camera_id,
            source_uri=prediction.source_uri,
        )


_WORKERS: dict[int, BatchingWorker] = {}
_WORKERS_LOCK = threading.Lock()
LOW_PRIORITY = 19  # nice value of the explaining thread


def _lower_priority() -> None:
    try:  # Linux: a thread is a task with its own nice value
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOW_PRIORITY)
    except (AttributeError, OSError) as exc:
        _LOG.info("explanations run at normal priority: %s", exc)


def background(frames_per_batch: int) -> BatchingWorker:
    """The process's explaining thread (one per batch limit; one in practice), at the lowest CPU
    priority: explanations take the CPU that scoring leaves, so a burning camera does not slow
    every camera's rows; frames waiting together are explained in one batch."""
    with _WORKERS_LOCK:
        if frames_per_batch not in _WORKERS:
            _WORKERS[frames_per_batch] = BatchingWorker(
                frames_per_batch, initializer=_lower_priority, name="firewatch-explain"
            )
        return _WORKERS[frames_per_batch]


def model_input_to_uint8(model_input: np.ndarray) -> np.ndarray:
    """The model's view of a frame as pixels, for the overlay when the original is not carried."""
    return (np.clip(np.asarray(model_input, dtype=np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


class ExplainScored(beam.PTransform):
    """(Prediction, model input, original) -> {"rows": explanation rows, "dead_letters": failures}.

    A separate branch: it consumes the frames Postprocess selected and never feeds back into
    predictions or alerts.
    """

    def __init__(self, model_dir: str, output_prefix: str, config: ExplainConfig, mode: str) -> None:
        super().__init__()
        self._args = (model_dir, output_prefix, config, mode)

    def expand(self, to_explain):
        model_dir, prefix, config, mode = self._args
        # A fusion break: on Dataflow the explain step is its own stage, scheduled apart from scoring.
        spread = to_explain | "BreakFusion" >> beam.Reshuffle()
        result = spread | "Explain" >> beam.ParDo(
            ExplainFrames(model_dir, prefix, config=config, mode=mode)
        ).with_outputs(DEAD, main="rows")
        return {"rows": result.rows, "dead_letters": result[DEAD]}
