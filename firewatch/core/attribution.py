"""Attribution maths for `firewatch.core.explain`: gradients, Integrated Gradients and XRAI masks.

Pure functions over the exported model's float signature (`FloatFn`: images ->
{"fire_probability": ...}); TensorFlow and the `saliency` library are imported where used.

* `integrated_gradients_many` computes IG (trapezoid rule over `steps` intervals, averaged over
  the baselines) of several images, their interpolation points sent through one traced gradient
  function (`_gradient_function`, one per model, shared by threads) in chunks of `batch_size`.
* `xrai_region_masks` ranks image segments by attribution density (`saliency.core.XRAI`), from
  attributions already computed.
* `saliency_call_model_function` is the `call_model_function` the library expects (benchmarks).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

BASELINE_VALUES: dict[str, float] = {"black": 0.0, "white": 1.0}
PROBABILITY_KEY = "fire_probability"
FloatFn = Callable[..., Any]  # the exported model's float signature: images -> {"fire_probability": ...}


class XraiSettings(Protocol):
    """What XRAI needs of the explanation config (`firewatch.core.explain.ExplainConfig`)."""

    xrai_segmentation: str
    xrai_algorithm: str


def warm_up(float_fn: FloatFn) -> None:
    """Trace the gradient function once (about a second), so the first frame's cost is not inflated."""
    shape = input_shape(float_fn)
    if shape:
        _model_gradients(float_fn, np.zeros((1, *shape), np.float32), 1)


def input_shape(float_fn: FloatFn) -> tuple[int, ...] | None:
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
        shape = input_shape(float_fn)
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


def xrai_region_masks(image: np.ndarray, pixel_attr: np.ndarray, config: XraiSettings) -> list[np.ndarray]:
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
