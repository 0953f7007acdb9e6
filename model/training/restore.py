"""The trainable Keras model behind an exported MODEL_DIR, for fine-tuning.

The export (`model.export.export`) tracks the Keras model's variables in the SavedModel, in
`model.variables` order and under the same names. So the architecture is rebuilt from the
metadata (`backbone`, `image_size`) with the same builders as training, each variable is
copied over after its name and shape are checked, and the rebuilt model must reproduce the
exported graph's probabilities on a probe batch. No extra file is needed next to the export,
so every model already exported can be fine-tuned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from firewatch.core.model_contract import ExportedModel
from model.architectures.backbones import BACKBONE_NAMES, BACKBONES
from model.errors import ModelError

PROBE_TOLERANCE = 1e-4


@dataclass
class Restored:
    model: Any  # keras.Model
    base: Any  # the MobileNetV2 backbone (mobilenet_v2) or None
    exported: ExportedModel


def _name(variable: Any) -> str:
    """The variable's path without ":0" and without the "_N" Keras appends to auto-named objects."""
    name = getattr(variable, "path", None) or variable.name
    name = name[:-2] if name.endswith(":0") else name
    return re.sub(r"_\d+(?=/|$)", "", name)


def restore_keras_model(model_dir: str, dropout: float = 0.2) -> Restored:
    """Rebuild MODEL_DIR's Keras model with its trained weights (raises `ModelError` if it cannot)."""
    from firewatch.cloud.models import load_exported

    exported = load_exported(model_dir)
    meta = exported.metadata
    if meta.backbone not in BACKBONES:
        raise ModelError(
            f"{model_dir} is a {meta.backbone!r} model; only {list(BACKBONE_NAMES)} models (from `firewatch train`) "
            "can be fine-tuned"
        )
    model, base = BACKBONES[meta.backbone].build(meta.image_size, dropout)
    saved = list(exported.loaded.variables)
    if len(saved) != len(model.variables):
        raise ModelError(
            f"{model_dir} holds {len(saved)} variables, a fresh {meta.backbone} has {len(model.variables)}: "
            "it was exported by another version of the code; retrain it with `firewatch train`"
        )
    for target, source in zip(model.variables, saved, strict=True):
        if _name(target) != _name(source) or tuple(target.shape) != tuple(source.shape):
            raise ModelError(
                f"{model_dir}: variable {_name(source)} {tuple(source.shape)} does not match "
                f"{_name(target)} {tuple(target.shape)} of a fresh {meta.backbone}; retrain it with `firewatch train`"
            )
        target.assign(source.numpy())
    probe = np.random.default_rng(0).uniform(0, 1, (4, meta.image_size, meta.image_size, 3)).astype(np.float32)
    ours = np.asarray(model(probe, training=False)).reshape(-1)
    theirs = exported.predict_images(probe)
    if float(np.max(np.abs(ours - theirs))) > PROBE_TOLERANCE:
        raise ModelError(
            f"the model rebuilt from {model_dir} scores differently from its SavedModel "
            f"({ours.round(4).tolist()} vs {theirs.round(4).tolist()}); retrain it with `firewatch train`"
        )
    return Restored(model, base, exported)
