"""Loading an exported model (local folder or gs:// prefix): metadata without TF, then the SavedModel.

A gs:// MODEL_DIR is copied to a local temp dir with Beam's FileSystems first (TensorFlow's own
gs:// support is not installed). Loading uses plain `tf.saved_model.load`, no custom objects.
"""

from __future__ import annotations

import json
import os
from typing import Any

from firewatch.cloud.storage import download_dir, is_remote, read_bytes
from firewatch.core.model_contract import (
    BYTES_SIGNATURE,
    FLOAT_SIGNATURE,
    LOCATE_SIGNATURE,
    METADATA_FILE,
    ExportedModel,
    ModelMetadata,
)
from firewatch.errors import ModelError

__all__ = [
    "GPU_GROWTH_ENV",
    "METADATA_FILE",
    "ExportedModel",
    "ModelMetadata",
    "allow_gpu_memory_growth",
    "check_model_dir",
    "load_exported",
    "read_metadata",
]

GPU_GROWTH_ENV = "TF_FORCE_GPU_ALLOW_GROWTH"


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
            f"{path} is not valid Firewatch model metadata ({_one_line(exc)}); re-export the model with "
            "`firewatch train`"
        ) from None


def _one_line(exc: ValueError) -> str:
    """A pydantic ValidationError (many lines) or a JSON error as one line."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        problems = [f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}" for e in errors()]
        return "; ".join(problems[:4]) + ("; ..." if len(problems) > 4 else "")
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def check_model_dir(model_dir: str) -> ModelMetadata:
    """A start-up check, without TF, that `model_dir` is an exported model: valid metadata and, for a
    local folder, its SavedModel. Raises FileNotFoundError or ModelError naming what is missing."""
    metadata = read_metadata(model_dir)
    if not is_remote(model_dir) and not os.path.isfile(os.path.join(model_dir, "saved_model.pb")):
        raise ModelError(
            f"{model_dir} has {METADATA_FILE} but no saved_model.pb: not a complete exported Firewatch model "
            "(re-export it with `firewatch train`)"
        )
    return metadata


def allow_gpu_memory_growth(tf: Any = None) -> int:
    """Let TensorFlow take GPU memory as it needs it, not all of it at its first GPU use: on a GPU
    worker the scoring process and the explaining child each load a model on the same GPU, and the
    first to start would otherwise take the memory the other needs. Call it before any TF GPU use;
    sets TF_FORCE_GPU_ALLOW_GROWTH for processes started later too. Returns the GPUs set."""
    os.environ[GPU_GROWTH_ENV] = "true"
    if tf is None:
        import tensorflow as tf
    done = 0
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
            done += 1
        except RuntimeError:  # TF already initialised the device in this process: too late to change
            pass
    return done


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
        metadata,
        local,
        loaded,
        loaded.signatures[BYTES_SIGNATURE],
        loaded.signatures[FLOAT_SIGNATURE],
        loaded.signatures.get(LOCATE_SIGNATURE),
    )
