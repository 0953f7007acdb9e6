"""A Firewatch .tflite model: its embedded metadata and fire probabilities with the LiteRT interpreter.

The metadata of the SavedModel (`firewatch_model.json`: model version, class names, image
size, threshold, ...) plus the variant and the input/output quantization travel inside the
.tflite flatbuffer as a named metadata buffer (`firewatch_metadata`, JSON), so a single file
is a complete edge model; the exporter also writes the same JSON next to it as a sidecar.
Input is the float32 `firewatch.core.imaging.preprocess` output; decoding stays outside the graph
(TFLite has no decode ops). Quantized inputs/outputs (full-integer int8) are (de)quantized here
with the tensor's own scale and zero point. Reading and writing use `ai-edge-litert` only.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from firewatch.errors import ModelError

METADATA_NAME = "firewatch_metadata"
TFLITE_IDENTIFIER = b"TFL3"


def embed_metadata(tflite_model: bytes, metadata: dict[str, Any]) -> bytes:
    """Return the flatbuffer with `metadata` (JSON) added as the `firewatch_metadata` buffer (replacing any)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(bytearray(tflite_model), 0))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(metadata, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if _name(m.name) != METADATA_NAME] + [entry]
    builder = flatbuffers.Builder(len(tflite_model) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=TFLITE_IDENTIFIER)
    return bytes(builder.Output())


def _name(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_metadata(tflite_model: bytes) -> dict[str, Any] | None:
    """The embedded `firewatch_metadata` JSON, or None when the file has none."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(bytearray(tflite_model), 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if _name(entry.Name()) == METADATA_NAME:
            return json.loads(model.Buffers(entry.Buffer()).DataAsNumpy().tobytes().decode("utf-8"))
    return None


def sidecar_path(tflite_path: str) -> str:
    return os.path.splitext(tflite_path)[0] + ".json"


@dataclass
class TFLiteModel:
    """A loaded .tflite classifier: `predict(images float32 [N,S,S,3]) -> probabilities [N]`."""

    path: str
    metadata: dict[str, Any]
    interpreter: Any
    size_bytes: int

    @property
    def image_size(self) -> int:
        return int(self.metadata["image_size"])

    @property
    def threshold(self) -> float:
        return float(self.metadata["threshold"])

    @property
    def class_names(self) -> list[str]:
        return list(self.metadata["class_names"])

    @property
    def variant(self) -> str:
        return str(self.metadata.get("tflite_variant", "unknown"))

    def predict_one(self, image: np.ndarray) -> float:
        """One float32 [S,S,3] image in [0,1] -> fire probability."""
        inp = self.interpreter.get_input_details()[0]
        out = self.interpreter.get_output_details()[0]
        x = np.asarray(image, np.float32)[None]
        if x.shape != tuple(inp["shape"]):
            raise ValueError(f"expected an image of shape {tuple(inp['shape'][1:])}, got {tuple(x.shape[1:])}")
        self.interpreter.set_tensor(inp["index"], quantize(x, inp))
        self.interpreter.invoke()
        return float(dequantize(self.interpreter.get_tensor(out["index"]), out).reshape(-1)[0])

    def predict(self, images: np.ndarray) -> np.ndarray:
        return np.array([self.predict_one(img) for img in np.asarray(images, np.float32)], np.float32)

    def label(self, probability: float, threshold: float | None = None) -> str:
        limit = self.threshold if threshold is None else threshold
        return self.class_names[1] if probability >= limit else self.class_names[0]


def quantize(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    if dtype == np.float32:
        return x.astype(np.float32)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero_point), info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    if np.dtype(detail["dtype"]) == np.float32:
        return q.astype(np.float32)
    scale, zero_point = detail["quantization"]
    return (q.astype(np.float32) - zero_point) * scale


def load_tflite(path: str, num_threads: int = 1) -> TFLiteModel:
    """Load a .tflite file and its metadata (embedded, else the sidecar JSON); clear errors otherwise."""
    from ai_edge_litert.interpreter import Interpreter

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found: pass a .tflite file written by `firewatch export-tflite`")
    with open(path, "rb") as f:
        content = f.read()
    if content[4:8] != TFLITE_IDENTIFIER:
        raise ModelError(f"{path} is not a TFLite flatbuffer; export one with `firewatch export-tflite`")
    metadata = read_metadata(content)
    if metadata is None and os.path.isfile(sidecar_path(path)):
        with open(sidecar_path(path)) as f:
            metadata = json.load(f)
    missing = {"image_size", "threshold", "class_names", "model_version"} - set(metadata or {})
    if missing:
        raise ModelError(
            f"{path} carries no Firewatch metadata ({', '.join(sorted(missing))} missing, no {sidecar_path(path)}); "
            "export it with `firewatch export-tflite`"
        )
    interpreter = Interpreter(model_content=content, num_threads=num_threads)
    interpreter.allocate_tensors()
    return TFLiteModel(path, metadata, interpreter, len(content))
