"""The upload page's scoring: the pipeline's own code on one image.

Decode with `firewatch.core.imaging` (same limits), score the frame by its full-resolution regions
(`firewatch.core.regions.score_pixels`, the pipelines' rule) with the exported model's float
signature (`firewatch.cloud.models.load_exported`); for a fire result, explain the peak region with
`firewatch.core.explain.explain_image`, placed where it is in the frame, and draw
`firewatch.core.overlay.render_overlay`. A result below the threshold has nothing to explain: no
heat map and no regions are drawn (they would point at "evidence" of a fire the model did not see),
only the frame.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass
from typing import Any

from firewatch.core.explain import ExplainConfig, explain_image, in_frame
from firewatch.core.imaging import DecodeLimits, decode_image
from firewatch.core.overlay import render_frame, render_overlay
from firewatch.core.prediction import label_for
from firewatch.core.regions import Box, RegionConfig, score_pixels


@dataclass(frozen=True)
class UploadResult:
    label: str
    probability: float
    threshold: float
    model_version: str
    width: int
    height: int
    overlay_png: bytes  # fire: frame | heat map with XRAI regions; no fire: the frame alone
    regions: list[tuple[float, float, float, float, float]]  # XRAI regions (none without fire)
    approximation_error: float | None  # of the explanation (None: not explained)
    fire_boxes: list[tuple[Box, float]]  # the firing regions (fractions of the frame) and their probabilities
    regions_scored: int

    @property
    def overlay_data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.overlay_png).decode()


class UploadScorer:
    """Loads the model once (lazily, thread-safe) and scores uploaded images."""

    def __init__(
        self, model_dir: str, explain: ExplainConfig | None = None, regions: RegionConfig | None = None
    ) -> None:
        self.model_dir = model_dir
        self.explain = explain or ExplainConfig()
        self.regions = regions or RegionConfig()
        self._model: Any = None
        self._lock = threading.Lock()

    def model(self) -> Any:
        with self._lock:
            if self._model is None:
                from firewatch.cloud.models import load_exported

                self._model = load_exported(self.model_dir)
            return self._model

    def score(self, data: bytes, limits: DecodeLimits = DecodeLimits()) -> UploadResult:
        """Raises `firewatch.core.imaging.ImageError` for bytes that are not an acceptable image."""
        model = self.model()
        meta = model.metadata
        decoded = decode_image(data, limits)
        locate = model.locate_images if model.locates else None
        scored = score_pixels(
            model.predict_images, decoded.pixels, meta.image_size, meta.threshold, self.regions, locate=locate
        )
        probability = scored.scores.probability
        label = label_for(probability, meta.threshold)
        if label != "fire":
            return UploadResult(
                label=label,
                probability=probability,
                threshold=meta.threshold,
                model_version=meta.model_version,
                width=decoded.width,
                height=decoded.height,
                overlay_png=render_frame(decoded.pixels),
                regions=[],
                approximation_error=None,
                fire_boxes=[],
                regions_scored=scored.scores.regions_scored,
            )
        explanation = explain_image(model.float_fn, scored.peak_input, self.explain)
        explanation = in_frame(explanation, scored.scores.peak_box, decoded.pixels.shape[:2])
        title = f"p(fire)={probability:.2f}  IG {explanation.steps} steps + XRAI"
        png = render_overlay(decoded.pixels, explanation.attributions, explanation.top_regions, title=title)
        return UploadResult(
            label=label,
            probability=probability,
            threshold=meta.threshold,
            model_version=meta.model_version,
            width=decoded.width,
            height=decoded.height,
            overlay_png=png,
            regions=[tuple(r) for r in explanation.top_regions],
            approximation_error=explanation.approximation_error,
            fire_boxes=[(b.box, b.probability) for b in scored.scores.boxes],
            regions_scored=scored.scores.regions_scored,
        )
