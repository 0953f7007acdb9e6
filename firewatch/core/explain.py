"""Per-frame explanations: Integrated Gradients through the float signature, then XRAI regions.

Pure functions, no Beam (the Beam wrapper is `firewatch.beam.explanation`):

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
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

BaselineName = Literal["black", "white"]
BASELINE_VALUES: dict[str, float] = {"black": 0.0, "white": 1.0}
PROBABILITY_KEY = "fire_probability"


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


FloatFn = Callable[..., Any]  # the exported model's float signature: images -> {"fire_probability": ...}


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
    expected = _input_shape(float_fn)
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


def warm_up(float_fn: FloatFn) -> None:
    """Trace the gradient function once (about a second), so the first frame's cost is not inflated."""
    shape = _input_shape(float_fn)
    if shape:
        _model_gradients(float_fn, np.zeros((1, *shape), np.float32), 1)


def _input_shape(float_fn: FloatFn) -> tuple[int, ...] | None:
    """(S, S, 3) from the signature's `images` spec, when the function declares it."""
    try:
        spec = float_fn.structured_input_signature[1]["images"]
        shape = tuple(spec.shape.as_list()[1:])
    except (AttributeError, IndexError, KeyError, TypeError):
        return None
    return shape if len(shape) == 3 and all(isinstance(d, int) for d in shape) else None


def integrated_gradients(
    float_fn: FloatFn, image: np.ndarray, baselines: Sequence[str], steps: int, batch_size: int
) -> tuple[np.ndarray, float, list[float]]:
    """IG (trapezoid rule, `steps` intervals) averaged over baselines.

    Returns (attributions [H, W, 3], f(image), [f(baseline) for each baseline]); the model values
    come from the same forward passes as the gradients (alpha = 1 is the image, alpha = 0 the
    baseline), so they cost nothing extra.
    """
    return integrated_gradients_many(float_fn, [image], baselines, steps, batch_size)[0]


def integrated_gradients_many(
    float_fn: FloatFn, images: Sequence[np.ndarray], baselines: Sequence[str], steps: int, batch_size: int
) -> list[tuple[np.ndarray, float, list[float]]]:
    """`integrated_gradients` of several images, their path points sent through the model together
    in chunks of `batch_size` (chunks span images). Points are built per chunk and gradients
    accumulated per chunk, so memory stays at one chunk whatever the number of images."""
    import tensorflow as tf

    alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)
    weights = np.full(steps + 1, 1.0 / steps, dtype=np.float32)
    weights[[0, -1]] *= 0.5
    n, nb = steps + 1, len(baselines)
    base_values = np.array([BASELINE_VALUES[name] for name in baselines], dtype=np.float32)
    images = [np.asarray(image, dtype=np.float32) for image in images]
    attributions = [np.zeros_like(image) for image in images]
    probs = np.zeros((len(images), nb, n), dtype=np.float32)
    gradient_fn = _gradient_function(float_fn)
    total = len(images) * nb * n  # point p -> image p // (nb * n), baseline (p // n) % nb, step p % n
    for first in range(0, total, batch_size):
        index = np.arange(first, min(first + batch_size, total))
        i, b, k = index // (nb * n), (index // n) % nb, index % n
        stacked = np.stack([images[j] for j in i])
        base = base_values[b][:, None, None, None]
        points = base + alphas[k][:, None, None, None] * (stacked - base)
        p, g = gradient_fn(tf.convert_to_tensor(points, dtype=tf.float32))
        probs[i, b, k] = p.numpy().reshape(-1)
        contributions = (weights[k] / nb)[:, None, None, None] * (stacked - base) * g.numpy()
        for row, j in enumerate(i):
            attributions[j] += contributions[row]
    return [
        (attributions[j], float(probs[j, 0, n - 1]), [float(probs[j, b, 0]) for b in range(nb)])
        for j in range(len(images))
    ]


def _model_gradients(float_fn: FloatFn, points: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(f(points) [N], d f / d points [N, H, W, 3]) in chunks of `batch_size`."""
    import tensorflow as tf

    gradient_fn = _gradient_function(float_fn)
    probs, grads = [], []
    for i in range(0, len(points), batch_size):
        p, g = gradient_fn(tf.convert_to_tensor(points[i : i + batch_size], dtype=tf.float32))
        probs.append(p.numpy())
        grads.append(g.numpy())
    return np.concatenate(probs).reshape(-1), np.concatenate(grads)


_GRADIENT_FUNCTIONS: dict[int, tuple[FloatFn, Callable[..., Any]]] = {}
_GRADIENT_LOCK = threading.Lock()


def _gradient_function(float_fn: FloatFn) -> Callable[..., Any]:
    """A tf.function (traced once per model, shared by threads) returning (probabilities, gradients).

    Graph mode is 1.5-2x faster than an eager GradientTape around the signature on 2 CPU cores.
    The cache holds a reference to `float_fn`, so its id cannot be reused while cached.
    """
    import tensorflow as tf

    with _GRADIENT_LOCK:
        cached = _GRADIENT_FUNCTIONS.get(id(float_fn))
        if cached is not None:
            return cached[1]
        shape = _input_shape(float_fn)
        spec = tf.TensorSpec([None, *shape] if shape else None, tf.float32)

        @tf.function(input_signature=[spec])
        def gradients(images: Any) -> tuple[Any, Any]:
            with tf.GradientTape() as tape:
                tape.watch(images)
                probabilities = float_fn(images=images)[PROBABILITY_KEY]
            return probabilities, tape.gradient(probabilities, images)

        _GRADIENT_FUNCTIONS[id(float_fn)] = (float_fn, gradients)
        return gradients


def saliency_call_model_function(float_fn: FloatFn) -> Callable[..., dict[str, np.ndarray]]:
    """The `call_model_function` the `saliency` library expects, through the float signature."""
    import saliency.core as saliency

    def call(x_batch: np.ndarray, call_model_args: Any = None, expected_keys: Any = None) -> dict:
        _, grads = _model_gradients(float_fn, np.asarray(x_batch, dtype=np.float32), len(x_batch))
        return {saliency.INPUT_OUTPUT_GRADIENTS: grads}

    return call


def xrai_region_masks(image: np.ndarray, pixel_attr: np.ndarray, config: ExplainConfig) -> list[np.ndarray]:
    """XRAI's region masks ([H, W] bool), most important first, from precomputed attributions."""
    import saliency.core as saliency
    from saliency.core import xrai as saliency_xrai

    segments = None
    if float(np.ptp(image)) == 0.0:  # a flat image has one segment (Felzenszwalb would divide by 0)
        segments = [np.ones(image.shape[:2], dtype=bool)]
    elif config.xrai_segmentation == "fast":
        # The library's own Felzenszwalb segmentation, without its resize to 224 px.
        segments = saliency_xrai._get_segments_felzenszwalb(image, resize_image=False)
    # XRAI aggregates channels with max; repeating the per-pixel sum makes it rank by that sum.
    base_attribution = np.repeat(pixel_attr[..., None], image.shape[2], axis=-1)
    params = saliency.XRAIParameters(
        return_xrai_segments=True, flatten_xrai_segments=False, algorithm=config.xrai_algorithm
    )
    output = saliency.XRAI().GetMaskWithDetails(
        image,
        call_model_function=None,  # not called: the attributions are given
        base_attribution=base_attribution,
        segments=segments,
        extra_parameters=params,
    )
    return [np.asarray(mask, dtype=bool) for mask in output.segments if np.any(mask)]


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
