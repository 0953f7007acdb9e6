"""A small exported model with the real signature contract, for explanation tests.

`predict_images(images: float32 [None, S, S, 3] in [0, 1]) -> {"fire_probability", "label"}`,
saved with `tf.saved_model.save` and loaded back like the exported demo model. Its probability
is a nonlinear function of "flame-coloured" pixels (red well above green and blue), pooled
softly over the image, so Integrated Gradients has something to integrate and the attribution
should sit on the flame-coloured blob drawn by `blob_frame`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

TOY_SIZE = 64


@dataclass(frozen=True)
class ToyMetadata:
    image_size: int
    model_version: str


@dataclass
class ToyExported:
    loaded: Any  # keeps the restored object (and its function's captures) alive
    float_fn: Any
    metadata: ToyMetadata


def save_toy_model(directory: Path, size: int = TOY_SIZE) -> Path:
    import tensorflow as tf

    class Toy(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            kernel = np.ones((5, 5, 1, 1), np.float32) / 25.0
            self.kernel = tf.Variable(kernel, trainable=False)

        @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32, name="images")])
        def predict_images(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
            r, g, b = images[..., 0:1], images[..., 1:2], images[..., 2:3]
            flame = tf.nn.relu(r - 0.6 * g - 0.6 * b - 0.15)
            local = tf.nn.conv2d(flame, self.kernel, strides=1, padding="SAME")
            # Soft maximum over the image (0 for an image without flame colours).
            pooled = (tf.reduce_logsumexp(30.0 * local, axis=[1, 2, 3]) - np.log(size * size)) / 30.0
            probability = tf.sigmoid(15.0 * (pooled - 0.15))
            label = tf.where(probability >= 0.5, tf.constant("fire"), tf.constant("no_fire"))
            return {"fire_probability": probability, "label": label}

    module = Toy()
    tf.saved_model.save(module, str(directory), signatures={"predict_images": module.predict_images})
    return directory


def load_toy_model(directory: str | Path) -> ToyExported:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(directory))
    fn = loaded.signatures["predict_images"]
    size = int(fn.structured_input_signature[1]["images"].shape[1])
    return ToyExported(loaded, fn, ToyMetadata(image_size=size, model_version="toy-v1"))


def blob_frame(rng: np.random.Generator, size: int = TOY_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [size, size, 3] frame with one orange blob on a cool noisy background, bool mask)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    background = np.empty((size, size, 3), np.float32)
    background[..., 0] = rng.uniform(0.2, 0.4)
    background[..., 1] = rng.uniform(0.3, 0.5)
    background[..., 2] = rng.uniform(0.4, 0.7)
    background += rng.normal(0.0, 0.05, background.shape).astype(np.float32)
    cy, cx = rng.uniform(0.2, 0.8, 2) * size
    ry, rx = rng.uniform(0.08, 0.15, 2) * size
    mask = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
    frame = background
    frame[mask] = np.array([1.0, 0.55, 0.1], np.float32) + rng.normal(0.0, 0.03, (int(mask.sum()), 3))
    return (np.clip(frame, 0, 1) * 255 + 0.5).astype(np.uint8), mask
