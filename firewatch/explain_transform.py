"""Beam wrapper for explanations: `ExplainFrames` turns predicted frames into explanation rows.

It runs on its own branch of the pipeline, after the prediction rows are written, so its cost
(about a second per explained frame on 2 CPU cores) never delays predictions or alerts. Input
elements are `(prediction_row, model_input float32 [S, S, 3], original uint8 [H, W, 3])`; the
original may be left out (`(prediction_row, model_input)`), and the overlay then shows the
model's view of the frame.
For each frame that `firewatch.explain.should_explain` selects (fire frames, plus a sample of the
rest decided by a hash of the frame key, so retries choose the same frames), it

* computes Integrated Gradients + XRAI regions (`firewatch.explain.explain_image`),
* writes the overlay PNG (`firewatch.overlay.render_overlay`) to
  `firewatch.alerting.overlay_uri(output_prefix, model_version, frame_key)` with Beam's
  `FileSystems` (local paths, `gs://`, the GCS emulator via STORAGE_EMULATOR_HOST); alerts
  compute their peak frame's explanation URI with the same function,
* yields one row of the explanations table (infra/schemas/explanations.json),
* records the time spent in the Distribution metric `firewatch.explain/explain_ms`.

A frame that cannot be explained goes to the tagged output `dead_letter` (stage "explain")
instead of failing the pipeline.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam import pvalue
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from firewatch.alerting import overlay_uri
from firewatch.contract import first_line
from firewatch.explain import ExplainConfig, Explanation, explain_image, should_explain, warm_up
from firewatch.overlay import render_overlay
from firewatch.rows import dead_letter_row, rfc3339

DEAD_LETTER_TAG = "dead_letter"
METRICS_NAMESPACE = "firewatch.explain"
_LOG = logging.getLogger(__name__)

ModelLoader = Callable[[str], Any]  # model_dir -> object with .float_fn and .metadata.model_version


def sample_value(frame_key: str) -> float:
    """Deterministic uniform value in [0, 1) for sampling non-fire frames."""
    return int.from_bytes(hashlib.sha256(frame_key.encode("utf-8")).digest()[:8], "big") / 2.0**64


def explanation_row(
    prediction_row: dict[str, Any],
    explanation: Explanation,
    model_version: str,
    uri: str | None,
    mode: str,
    created_at: datetime,
) -> dict[str, Any]:
    """One row of the explanations table (field names and types of infra/schemas/explanations.json)."""
    return {
        "frame_key": str(prediction_row["frame_key"]),
        "camera_id": prediction_row.get("camera_id"),
        "frame_id": prediction_row.get("frame_id"),
        "source_uri": prediction_row.get("source_uri"),
        "model_version": model_version,
        "fire_probability": float(explanation.probability),
        "method": explanation.method,
        "ig_steps": int(explanation.steps),
        "baselines": list(explanation.baselines),
        "approximation_error": float(explanation.approximation_error),
        "approximation_flagged": bool(explanation.flagged),
        "top_regions": [
            {
                "x_min": float(r.x_min),
                "y_min": float(r.y_min),
                "x_max": float(r.x_max),
                "y_max": float(r.y_max),
                "share": float(r.share),
            }
            for r in explanation.top_regions
        ],
        "overlay_uri": uri,
        "compute_ms": float(explanation.compute_ms),
        "created_at": rfc3339(created_at),
        "mode": mode,
    }


def _default_loader(model_dir: str) -> Any:
    from model.exported import load_exported  # lazy: workers without the explain branch skip TF

    return load_exported(model_dir)


class ExplainFrames(beam.DoFn):
    """(prediction_row, model_input, original) -> explanation rows; failures -> 'dead_letter'."""

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
        self._model: Any = None
        self._explain_ms = Metrics.distribution(METRICS_NAMESPACE, "explain_ms")
        self._explained = Metrics.counter(METRICS_NAMESPACE, "explained")
        self._skipped = Metrics.counter(METRICS_NAMESPACE, "skipped")
        self._flagged = Metrics.counter(METRICS_NAMESPACE, "approximation_flagged")
        self._failed = Metrics.counter(METRICS_NAMESPACE, "failed")

    def setup(self) -> None:
        self._model = (self._loader or _default_loader)(self._model_dir)
        warm_up(self._model.float_fn)

    def process(self, element: tuple[Any, ...]) -> Iterator[Any]:
        row, model_input = element[0], element[1]
        original = element[2] if len(element) > 2 else None
        frame_key = str(row.get("frame_key", ""))
        if not should_explain(str(row.get("label", "")), sample_value(frame_key), self._config):
            self._skipped.inc()
            return
        start = time.perf_counter()
        try:
            model_version = str(self._model.metadata.model_version)
            explanation = explain_image(self._model.float_fn, model_input, self._config)
            picture = original if original is not None else model_input_to_uint8(model_input)
            title = f"p(fire)={explanation.probability:.2f}  IG {explanation.steps} steps + XRAI"
            png = render_overlay(picture, explanation.attributions, explanation.top_regions, title=title)
            uri = overlay_uri(self._output_prefix, model_version, frame_key)
            with FileSystems.create(uri, mime_type="image/png") as handle:
                handle.write(png)
        except Exception as exc:  # noqa: BLE001 - one bad frame must not fail the pipeline
            self._failed.inc()
            _LOG.warning("could not explain frame %s: %s", frame_key, exc)
            yield pvalue.TaggedOutput(DEAD_LETTER_TAG, self._dead_letter(row, exc))
            return
        elapsed_ms = (time.perf_counter() - start) * 1000.0
        self._explain_ms.update(int(round(elapsed_ms)))
        self._explained.inc()
        if explanation.flagged:
            self._flagged.inc()
        explanation.compute_ms = elapsed_ms  # explanation + overlay + upload: the frame's full cost
        yield explanation_row(row, explanation, model_version, uri, self._mode, datetime.now(UTC))

    def _dead_letter(self, row: dict[str, Any], exc: BaseException) -> dict[str, Any]:
        return dead_letter_row(
            stage="explain",
            reason=f"could not explain frame {row.get('frame_key')!r}: {first_line(exc)}",
            error_type=type(exc).__name__,
            mode=self._mode,
            message_id=row.get("message_id"),
            camera_id=row.get("camera_id"),
            source_uri=row.get("source_uri"),
        )


def model_input_to_uint8(model_input: np.ndarray) -> np.ndarray:
    """The model's view of a frame as pixels, for the overlay when the original is not carried."""
    return (np.clip(np.asarray(model_input, dtype=np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
