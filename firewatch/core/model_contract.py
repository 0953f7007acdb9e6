"""The exported-model contract, read side: metadata and the two serving signatures.

MODEL_DIR is a SavedModel root plus `firewatch_model.json` (`ModelMetadata`), with a bytes
signature and a float signature (`ExportedModel` calls them); exports since the Vertex AI endpoint
also have a paths signature (`predict_paths`: files read in the graph, gs:// on an endpoint).
Training writes this contract (`model.export.export`); serving, evaluation and explanations read it through
`firewatch.cloud.models` (which also fetches gs:// folders).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

METADATA_FILE = "firewatch_model.json"
BYTES_SIGNATURE = "serving_default"
FLOAT_SIGNATURE = "predict_images"
PATHS_SIGNATURE = "predict_paths"  # image_paths: tf.string [None] (local or gs:// files), for endpoint clients
BYTES_INPUT = "image_bytes"  # the bytes signature's input (a Vertex AI / TF Serving request's instance key)
PATHS_INPUT = "image_paths"  # the paths signature's input
LOCATE_SIGNATURE = "locate_images"  # optional: fire_probability and fire_map (where in the input it fired)


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


@dataclass
class ExportedModel:
    metadata: ModelMetadata
    local_dir: str
    loaded: Any
    bytes_fn: Any
    float_fn: Any  # concrete function of predict_images(images=float32 [N,S,S,3]); usable for gradients
    locate_fn: Any = None  # concrete function of locate_images(images), when the export has it

    @property
    def locates(self) -> bool:
        return self.locate_fn is not None

    def locate_images(self, images: np.ndarray, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """float32 [N,S,S,3] -> (fire probabilities [N], fire maps [N,h,w]: where in each input the
        model saw fire, a class-activation map). Only for exports with the `locate_images` signature."""
        import tensorflow as tf

        if self.locate_fn is None:
            raise ValueError("this model has no locate_images signature")
        images = np.asarray(images, dtype=np.float32)
        probabilities, maps = [], []
        for i in range(0, len(images), batch_size):
            out = self.locate_fn(images=tf.constant(images[i : i + batch_size]))
            probabilities.append(np.asarray(out["fire_probability"]).reshape(-1))
            maps.append(np.asarray(out["fire_map"]))
        if not probabilities:
            return np.zeros([0], np.float32), np.zeros([0, 1, 1], np.float32)
        return np.concatenate(probabilities).astype(np.float32), np.concatenate(maps).astype(np.float32)

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
