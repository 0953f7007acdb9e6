"""Export a trained Keras model as a versioned, self-describing SavedModel.

Signatures (plain `tf.saved_model.load`, no custom objects):
* `serving_default(image_bytes: tf.string [None])`: decodes with
  `tf.io.decode_image(channels=3, expand_animations=False)` and `firewatch.core.imaging.preprocess`
  inside the graph;
* `predict_images(images: float32 [None,S,S,3])`: the `preprocess` output, for batching
  and gradients;
* `predict_paths(image_paths: tf.string [None])`: reads each file with `tf.io.read_file`
  (local paths, or gs:// where TensorFlow has Cloud Storage access: TF Serving on a Vertex AI
  endpoint), then the same decode as `serving_default`, for clients that send paths, not pixels.
All three return `fire_probability` (float32 [None]) and `label` (tf.string [None]: "fire" iff
p >= threshold). Optional, for models ending in global pooling + one dense unit (both backbones):
* `locate_images(images)`: `fire_probability` and `fire_map` (float32 [None, h, w]: the class
  activation map, `model.export.localise`), to narrow a firing region's box down to where the flame is.
The threshold, class names, image size and model version are baked into the graph
and written to `MODEL_DIR/firewatch_model.json`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from datetime import UTC, datetime

from firewatch.cloud.storage import is_remote, upload_dir
from firewatch.core.model_contract import (
    BYTES_SIGNATURE,
    FLOAT_SIGNATURE,
    METADATA_FILE,
    PATHS_SIGNATURE,
    ModelMetadata,
)
from firewatch.core.records import CLASS_NAMES
from model.export.localise import LOCATE_SIGNATURE, fire_map_model


def make_model_version(backbone: str, model, now: datetime) -> str:
    digest = hashlib.sha256()
    for w in model.get_weights():
        digest.update(w.tobytes())
    digest.update(now.isoformat().encode())
    return f"{backbone}-{now.strftime('%Y%m%dT%H%M%SZ')}-{digest.hexdigest()[:8]}"


def export_model(
    model,
    model_dir: str,
    *,
    image_size: int,
    threshold: float,
    backbone: str,
    data_description: str,
    metrics: dict | None = None,
) -> ModelMetadata:
    """Write the SavedModel + metadata to model_dir (local or gs://); return the metadata."""
    import keras

    now = datetime.now(UTC).replace(microsecond=0)
    metadata = ModelMetadata(
        model_version=make_model_version(backbone, model, now),
        class_names=list(CLASS_NAMES),
        image_size=image_size,
        threshold=float(threshold),
        backbone=backbone,
        data_description=data_description,
        created_at=now.isoformat().replace("+00:00", "Z"),
        metrics=metrics or {},
    )
    archive = keras.export.ExportArchive()
    archive.track(model)
    _add_endpoints(archive, model, float(threshold), int(image_size))
    _write_out(archive, metadata, model_dir)
    return metadata


def _add_endpoints(archive, model, thr: float, s: int) -> None:
    """The serving signatures (module docstring) on the archive; `locate_images` where the model allows it."""
    import tensorflow as tf

    from firewatch.core.imaging import preprocess

    def outputs(probs):
        probs = tf.reshape(tf.cast(probs, tf.float32), [-1])
        label = tf.where(probs >= thr, tf.constant(CLASS_NAMES[1]), tf.constant(CLASS_NAMES[0]))
        return {"fire_probability": probs, "label": label}

    @tf.function(input_signature=[tf.TensorSpec([None, s, s, 3], tf.float32, name="images")])
    def predict_images(images):
        return outputs(model(images, training=False))

    def decoded(encoded):
        return tf.map_fn(
            lambda b: preprocess(tf.io.decode_image(b, channels=3, expand_animations=False), s),
            encoded,
            fn_output_signature=tf.TensorSpec([s, s, 3], tf.float32),
        )

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serving_default(image_bytes):
        return outputs(model(decoded(image_bytes), training=False))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_paths")])
    def predict_paths(image_paths):
        encoded = tf.map_fn(tf.io.read_file, image_paths, fn_output_signature=tf.TensorSpec([], tf.string))
        return outputs(model(decoded(encoded), training=False))

    archive.add_endpoint(BYTES_SIGNATURE, serving_default)
    archive.add_endpoint(FLOAT_SIGNATURE, predict_images)
    archive.add_endpoint(PATHS_SIGNATURE, predict_paths)
    locator = fire_map_model(model)
    if locator is not None:  # optional: where in the image the fire evidence is (model.export.localise)

        @tf.function(input_signature=[tf.TensorSpec([None, s, s, 3], tf.float32, name="images")])
        def locate_images(images):
            probs, fire_map = locator(images, training=False)
            return {"fire_probability": tf.reshape(probs, [-1]), "fire_map": tf.cast(fire_map, tf.float32)}

        archive.add_endpoint(LOCATE_SIGNATURE, locate_images)


def _write_out(archive, metadata: ModelMetadata, model_dir: str) -> None:
    """The SavedModel and its metadata into model_dir (a previous export there is replaced; gs:// by upload)."""
    local = tempfile.mkdtemp(prefix="firewatch-export-") if is_remote(model_dir) else model_dir
    if not is_remote(model_dir) and os.path.exists(os.path.join(local, "saved_model.pb")):
        for name in ("saved_model.pb", "variables", "assets", "fingerprint.pb", METADATA_FILE):
            path = os.path.join(local, name)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.remove(path)
    archive.write_out(local, verbose=False)
    with open(os.path.join(local, METADATA_FILE), "w") as f:
        json.dump(metadata.model_dump(), f, indent=2)
    if is_remote(model_dir):
        upload_dir(local, model_dir)
        shutil.rmtree(local, ignore_errors=True)
