"""Per-frame explanations: Integrated Gradients through the float signature, then XRAI regions.

Pure functions, no Beam (the Beam wrapper is `firewatch.beam.explanation`); the attribution maths
(gradients, Integrated Gradients, XRAI masks) is `firewatch.core.attribution`, this module the
configuration, the choice of frames and the explanation records:

* `explain_image(float_fn, image, config)` explains the model's `fire_probability` for one
  model-input image (float32 [S, S, 3] in [0, 1]). Integrated Gradients (IG) is computed for
  each baseline (black, white by default) with the trapezoid rule over `steps` intervals; all
  interpolation points of all baselines go through one traced gradient function in
  `batch_size` chunks, and the attributions are the mean over baselines. The completeness error
  |sum(attributions) - (f(x) - mean_b f(b))| is measured and flagged above `error_tolerance`.
  The `saliency` library's IG weights `steps` points equally, ends included (a first-order
  rule): on the demo model it needs about 8x the steps for the same error (32 trapezoid steps:
  max error 0.008; the library's rule: 0.036), see scripts/bench_explain.py.
* XRAI (the maintained `saliency` library, `saliency.core.XRAI`) ranks image segments by
  attribution density; the `top_k_regions` most important ones are returned as bounding boxes
  with their share of the positive attribution, largest share first (the table's order).
* `should_explain(label, rng_value, config)` decides which frames are explained: every frame
  labelled fire, and a configurable sample of the rest.

Attributions are reported per pixel (summed over colour channels), so they sum to the IG total.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from firewatch.core.attribution import FloatFn, input_shape, integrated_gradients_many, xrai_region_masks

BaselineName = Literal["black", "white"]


class ExplainConfig(BaseModel):
    """What is explained and how (one field per pipeline flag)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: int = Field(
        32,
        ge=2,
        le=2048,
        description=(
            "Integrated Gradients intervals per baseline (trapezoid rule); 32 keeps the completeness "
            "error below 0.01 on the demo model (scripts/bench_explain.py)."
        ),
    )
    baselines: tuple[BaselineName, ...] = Field(("black", "white"), description="IG baselines.")
    batch_size: int = Field(
        8,
        ge=1,
        le=4096,
        description=(
            "Interpolated images per model call (all baselines together); small chunks let the scoring "
            "calls share TensorFlow's threads in between (streaming p99 1.4 s at 8 vs 4.7 s at 64)."
        ),
    )
    frames_per_batch: int = Field(
        8,
        ge=1,
        le=256,
        description=(
            "Frames waiting to be explained at the same time share their IG model calls, up to this "
            "many (a frame that arrives alone is explained alone, without waiting)."
        ),
    )
    separate_process: bool = Field(
        True,
        description=(
            "Explain in a child process at the lowest CPU priority (it shares no interpreter lock with "
            "scoring); false: on a low-priority thread of the worker process."
        ),
    )
    xrai: bool = Field(True, description="Rank XRAI regions (otherwise only IG, no top regions).")
    xrai_segmentation: Literal["library", "fast"] = Field(
        "fast",
        description=(
            "library: saliency's default Felzenszwalb segments (image resized to 224 px); "
            "fast: the same segmentation at the model's resolution (about 3x faster at 128 px)."
        ),
    )
    xrai_algorithm: Literal["full", "fast"] = Field(
        "fast",
        description=(
            "saliency's XRAI algorithm: fast (one pass over the segments) finds the same top region as "
            "full on the synthetic flames at about 3/4 of its time (scripts/bench_explain.py)."
        ),
    )
    top_k_regions: int = Field(3, ge=0, le=50)
    error_tolerance: float = Field(0.05, gt=0.0, description="Flag approximation errors above this.")
    sample_rate_negatives: float = Field(0.0, ge=0.0, le=1.0, description="Fraction of non-fire frames also explained.")
    fire_labels: tuple[str, ...] = Field(("fire",), min_length=1, description="Labels explained (see min_interval).")
    peak_margin: float = Field(
        0.05,
        ge=0.0,
        lt=1.0,
        description=(
            "Within an episode, a new peak is explained when it beats the most probable explained frame "
            "by at least this much (the alert shows the most probable explained frame)."
        ),
    )
    min_interval_seconds: float = Field(
        10.0,
        ge=0.0,
        description=(
            "Per camera, explain a fire frame at most this often (frame time), besides the first fire "
            "frame of an episode and each new peak; 0 explains every fire frame "
            "(firewatch.core.explain_policy)."
        ),
    )

    @field_validator("baselines")
    @classmethod
    def _baselines_not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("give at least one baseline (black, white)")
        if len(set(value)) != len(value):
            raise ValueError(f"baselines repeat: {list(value)}; give each at most once")
        return value

    @property
    def method(self) -> str:
        return "integrated_gradients+xrai" if self.xrai else "integrated_gradients"


class Region(NamedTuple):
    """A bounding box in normalised [0, 1] image coordinates and its share of positive attribution."""

    x_min: float
    y_min: float
    x_max: float
    y_max: float
    share: float


@dataclass
class Explanation:
    attributions: np.ndarray  # float32 [H, W]: IG summed over channels, mean over baselines
    approximation_error: float
    flagged: bool
    baselines: tuple[str, ...]
    steps: int
    top_regions: list[Region]
    compute_ms: float
    probability: float  # f(x)
    method: str
    baseline_probabilities: tuple[float, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)  # ig, xrai


def sample_value(frame_key: str) -> float:
    """Deterministic uniform value in [0, 1) for sampling non-fire frames."""
    return int.from_bytes(hashlib.sha256(frame_key.encode("utf-8")).digest()[:8], "big") / 2.0**64


def chosen_for_explanation(frame_key: str, label: str, config: ExplainConfig) -> bool:
    """Whether a scored frame is explained: fire frames, and a sample of the rest chosen by a hash
    of the frame key (so a retried or redelivered frame gets the same answer)."""
    return should_explain(label, sample_value(frame_key), config)


def should_explain(label: str, rng_value: float, config: ExplainConfig) -> bool:
    """Fire frames always; other frames when `rng_value` (uniform in [0, 1)) falls in the sample."""
    if label in config.fire_labels:
        return True
    return rng_value < config.sample_rate_negatives


def explain_image(float_fn: FloatFn, image: np.ndarray, config: ExplainConfig) -> Explanation:
    """Explain `fire_probability` of one model-input image (float32 [S, S, 3] in [0, 1])."""
    return explain_images(float_fn, [image], config)[0]


def explain_images(float_fn: FloatFn, images: Sequence[np.ndarray], config: ExplainConfig) -> list[Explanation]:
    """Explain several model-input images: the Integrated Gradients of all of them in one pass
    (their interpolation points share the model calls, `config.batch_size` points per call, so a
    frame's last partial chunk is filled with the next frame's points), then XRAI per image.

    The result is the same as `explain_image` on each image (the same points, the same weights);
    each explanation's `compute_ms` is its share of the IG pass plus its own XRAI time."""
    checked = [_checked_image(float_fn, image) for image in images]
    if not checked:
        return []
    start = time.perf_counter()
    results = integrated_gradients_many(float_fn, checked, config.baselines, config.steps, config.batch_size)
    ig_ms = (time.perf_counter() - start) * 1000.0 / len(checked)
    return [_finish(image, result, config, ig_ms) for image, result in zip(checked, results, strict=True)]


def _checked_image(float_fn: FloatFn, image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    expected = input_shape(float_fn)
    if image.ndim != 3 or image.shape[2] != 3 or (expected and image.shape != expected):
        want = f"[{expected[0]}, {expected[1]}, 3]" if expected else "[H, W, 3]"
        raise ValueError(f"expected one model-input image {want}, got shape {image.shape}")
    if not np.all(np.isfinite(image)):
        raise ValueError("the model input has NaN or infinite values")
    return image


def _finish(
    image: np.ndarray, ig: tuple[np.ndarray, float, list[float]], config: ExplainConfig, ig_ms: float
) -> Explanation:
    """Completeness check and XRAI regions for one image whose IG is computed."""
    attributions, probability, baseline_probs = ig
    start = time.perf_counter()
    pixel_attr = attributions.sum(axis=-1)
    error = abs(float(pixel_attr.sum(dtype=np.float64)) - (probability - float(np.mean(baseline_probs))))
    regions: list[Region] = []
    if config.xrai and config.top_k_regions > 0:
        masks = xrai_region_masks(image, pixel_attr, config)
        # XRAI's k most important regions (by attribution density), largest share first.
        regions = [region_from_mask(mask, pixel_attr) for mask in masks[: config.top_k_regions]]
        regions.sort(key=lambda region: -region.share)
    xrai_ms = (time.perf_counter() - start) * 1000.0
    return Explanation(
        attributions=pixel_attr.astype(np.float32),
        approximation_error=error,
        flagged=bool(error > config.error_tolerance),
        baselines=tuple(config.baselines),
        steps=config.steps,
        top_regions=regions,
        compute_ms=ig_ms + xrai_ms,
        probability=probability,
        method=config.method,
        baseline_probabilities=tuple(baseline_probs),
        timings_ms={"ig": ig_ms, "xrai": xrai_ms},
    )


def region_from_mask(mask: np.ndarray, pixel_attr: np.ndarray) -> Region:
    """Bounding box (normalised, exclusive max) of a mask and its share of positive attribution."""
    height, width = mask.shape
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    positive = np.clip(pixel_attr, 0.0, None)
    total = float(positive.sum(dtype=np.float64))
    share = float(positive[mask].sum(dtype=np.float64)) / total if total > 0 else 0.0
    return Region(
        x_min=float(cols[0]) / width,
        y_min=float(rows[0]) / height,
        x_max=float(cols[-1] + 1) / width,
        y_max=float(rows[-1] + 1) / height,
        share=share,
    )


def in_frame(explanation: Explanation, region_box: Sequence[float], frame_shape: tuple[int, int]) -> Explanation:
    """The explanation of one region of a frame (`firewatch.core.regions`), moved into the frame:
    its attributions placed where the region is in a frame of `frame_shape` (height, width; zero
    elsewhere) and its top regions in the frame's coordinates. The whole frame comes back as it is."""
    x0, y0, x1, y1 = (float(v) for v in region_box)
    if (x0, y0, x1, y1) == (0.0, 0.0, 1.0, 1.0):
        return explanation
    height, width = frame_shape
    top, bottom = round(y0 * height), max(round(y1 * height), round(y0 * height) + 1)
    left, right = round(x0 * width), max(round(x1 * width), round(x0 * width) + 1)
    placed = np.zeros((height, width), np.float32)
    from PIL import Image

    attributions = np.asarray(explanation.attributions, np.float32)
    if attributions.ndim == 3:
        attributions = attributions.sum(axis=-1)
    scaled = Image.fromarray(attributions, mode="F").resize((right - left, bottom - top), Image.BILINEAR)
    # a region's attributions keep their total when stretched (IG's completeness): scale the density
    scaled_values = np.asarray(scaled, np.float32) * (attributions.size / max(scaled.size[0] * scaled.size[1], 1))
    placed[top:bottom, left:right] = scaled_values[: height - top, : width - left]
    w, h = x1 - x0, y1 - y0
    regions = [
        Region(x0 + r.x_min * w, y0 + r.y_min * h, x0 + r.x_max * w, y0 + r.y_max * h, r.share)
        for r in explanation.top_regions
    ]
    return replace(explanation, attributions=placed, top_regions=regions)
