"""A tiny TFLite model with fixed weights for logic tests: fire probability = sigmoid(12 * (mean R - mean B)).

Red frames give p ~ 1, blue frames p ~ 0 on any machine, so tests of the edge runner control
the model's output. Converted with the exporter's own functions (frozen function, metadata).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SIZE = 16


def write_colour_model(path: Path, variant: str = "float32", threshold: float = 0.5) -> Path:
    import keras
    import tensorflow as tf

    from edge.litert import embed_metadata
    from edge.tflite_export import convert, frozen_probability_function

    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    outputs = keras.layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.layers[-1].set_weights([np.array([[12.0], [0.0], [-12.0]], np.float32), np.zeros([1], np.float32)])

    def float_fn(images):
        return {"fire_probability": tf.reshape(model(images, training=False), [-1])}

    frozen = frozen_probability_function(float_fn, SIZE)
    rng = np.random.default_rng(0)
    representative = rng.uniform(0, 1, size=(32, 1, 1, 3)).astype(np.float32) * np.ones((1, SIZE, SIZE, 3), np.float32)
    metadata = {
        "model_version": "colour-test-1",
        "class_names": ["no_fire", "fire"],
        "image_size": SIZE,
        "threshold": threshold,
        "backbone": "colour",
        "tflite_variant": variant,
    }
    path.write_bytes(embed_metadata(convert(frozen, variant, representative), metadata))
    return path


def write_frames(folder: Path, colour: tuple[int, int, int], count: int, start: int = 0) -> Path:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + count):
        Image.new("RGB", (40, 30), colour).save(folder / f"frame-{i:03d}.png")
    return folder
