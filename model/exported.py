"""Loading an exported Firewatch model: metadata (no TF) and the two serving signatures.

MODEL_DIR is a SavedModel root plus `firewatch_model.json` (`ModelMetadata`). It may be a
`gs://` prefix: it is then copied to a local temp dir with Beam's FileSystems first
(TensorFlow's own gs:// support is not installed). Loading uses plain
`tf.saved_model.load`, no custom objects.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from model.errors import ModelError
from model.storage import download_dir, is_remote, read_bytes

METADATA_FILE = "firewatch_model.json"
BYTES_SIGNATURE = "serving_default"
FLOAT_SIGNATURE = "predict_images"


class ModelMetadata(BaseModel):
    """What travels with an exported model (`MODEL_DIR/firewatch_model.json`)."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    model_version: str = Field(min_length=1)
    class_names: list[str]
    image_size: int = Field(gt=0)
    threshold: float = Field(ge=0, le=1)
    backbone: str
    data_description: str
    created_at: str
    metrics: dict[str, Any] = Field(default_factory=dict)


def read_metadata(model_dir: str) -> ModelMetadata:
    """Read and validate `firewatch_model.json` without loading any TF graph."""
    path = f"{model_dir.rstrip('/')}/{METADATA_FILE}"
    try:
        if is_remote(path):
            raw = read_bytes(path)
        else:  # plain file I/O: reading metadata locally needs neither Beam nor TF
            with open(path, "rb") as f:
                raw = f.read()
    except OSError as exc:
        raise FileNotFoundError(
            f"{path} not found: {model_dir} is not an exported Firewatch model (run `firewatch train`)"
        ) from exc
    try:
        return ModelMetadata.model_validate(json.loads(raw))
    except ValueError as exc:  # pydantic's ValidationError, JSONDecodeError, UnicodeDecodeError
        raise ModelError(
            f"{path} is not valid Firewatch model metadata ({exc}); re-export the model with `firewatch train`"
        ) from None


@dataclass
class ExportedModel:
    metadata: ModelMetadata
    local_dir: str
    loaded: Any
    bytes_fn: Any
    float_fn: Any  # concrete function of predict_images(images=float32 [N,S,S,3]); usable for gradients

    def predict_images(self, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """float32 [N,S,S,3] in [0,1] (preprocess output) -> fire probabilities float32 [N]."""
        import tensorflow as tf

        images = np.asarray(images, dtype=np.float32)
        s = self.metadata.image_size
        if images.ndim != 4 or images.shape[1:] != (s, s, 3):
            raise ValueError(f"expected images of shape [N,{s},{s},3], got {images.shape}")
        out = [
            self.float_fn(images=tf.constant(images[i : i + batch_size]))["fire_probability"].numpy()
            for i in range(0, len(images), batch_size)
        ]
        return np.concatenate(out).astype(np.float32) if out else np.zeros([0], np.float32)

    def predict_bytes(self, encoded: list[bytes], batch_size: int = 64) -> np.ndarray:
        """Encoded images (JPEG/PNG/GIF/BMP bytes) -> fire probabilities float32 [N], decoded in-graph."""
        import tensorflow as tf

        out = [
            self.bytes_fn(image_bytes=tf.constant(list(encoded[i : i + batch_size]), tf.string))[
                "fire_probability"
            ].numpy()
            for i in range(0, len(encoded), batch_size)
        ]
        return np.concatenate(out).astype(np.float32) if out else np.zeros([0], np.float32)

    def labels_for(self, probabilities: np.ndarray) -> list[str]:
        names = self.metadata.class_names
        return [names[1] if p >= self.metadata.threshold else names[0] for p in probabilities]


def load_exported(model_dir: str) -> ExportedModel:
    """Load an exported model (local path or gs:// prefix)."""
    import tensorflow as tf

    metadata = read_metadata(model_dir)
    local = download_dir(model_dir) if is_remote(model_dir) else model_dir
    if not os.path.isfile(os.path.join(local, "saved_model.pb")):
        raise FileNotFoundError(f"{model_dir} has no saved_model.pb: not a SavedModel export")
    loaded = tf.saved_model.load(local)
    missing = {BYTES_SIGNATURE, FLOAT_SIGNATURE} - set(loaded.signatures.keys())
    if missing:
        raise ModelError(f"{model_dir} lacks signatures {sorted(missing)}; re-export it with `firewatch train`")
    return ExportedModel(
        metadata, local, loaded, loaded.signatures[BYTES_SIGNATURE], loaded.signatures[FLOAT_SIGNATURE]
    )
