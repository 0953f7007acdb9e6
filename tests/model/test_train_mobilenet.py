"""Transfer learning path: frozen ImageNet MobileNetV2 head training, fine-tuning, export (slow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.architectures.backbones import build_mobilenet_classifier, unfreeze_top
from model.config import IngestConfig, TrainConfig


def test_unfreeze_top_keeps_batchnorm_frozen():
    from keras import layers

    _, base = build_mobilenet_classifier(64)
    assert not base.trainable
    assert unfreeze_top(base) > 0
    trainable = [layer for layer in base.layers if layer.trainable and layer.weights]
    assert trainable and all(not isinstance(layer, layers.BatchNormalization) for layer in trainable)
    assert all(
        layer.name.startswith(("features.14", "features.15", "features.16", "features.17", "features.18"))
        for layer in trainable
    )


@pytest.mark.slow
def test_mobilenet_trains_and_exports(synthetic_images_dir: Path, tmp_path: Path):
    from firewatch.cloud.models import load_exported
    from model.data.ingest import run_ingest
    from model.training.train import train

    run_ingest(IngestConfig(input=str(synthetic_images_dir), output=str(tmp_path / "rec")))
    result = train(
        TrainConfig(
            data=str(tmp_path / "rec"),
            output=str(tmp_path / "model"),
            backbone="mobilenet_v2",
            epochs=1,
            fine_tune_epochs=1,
            batch_size=8,
            image_size=96,
            verbose=0,
        )
    )
    assert len(result.history["loss"]) == 2
    model = load_exported(str(tmp_path / "model"))
    assert model.metadata.backbone == "mobilenet_v2" and model.metadata.image_size == 96
    probs = model.predict_images(np.random.default_rng(0).random((2, 96, 96, 3), dtype=np.float32))
    assert probs.shape == (2,) and np.all((probs >= 0) & (probs <= 1))
