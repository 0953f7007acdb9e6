"""`model.training.restore`: the trainable Keras model behind an exported MODEL_DIR (`model fine-tune` starts there)."""

from __future__ import annotations

import numpy as np
import pytest

from model.errors import ModelError
from model.training.restore import restore_keras_model


def _trained_looking(model, seed: int) -> None:
    """Weights no fresh build has (so a restore that silently kept the fresh ones would show)."""
    rng = np.random.default_rng(seed)
    for variable in model.trainable_variables[-2:]:
        variable.assign(rng.normal(0, 0.5, tuple(variable.shape)).astype(np.float32))


@pytest.mark.parametrize("backbone", ["small_cnn", "mobilenet_v2"])
def test_restored_model_scores_like_the_export_and_is_trainable(backbone, tmp_path) -> None:
    from model.architectures.backbones import build_mobilenet_classifier, build_small_cnn
    from model.export.export import export_model

    size = 64 if backbone == "mobilenet_v2" else 32
    model = build_small_cnn(size) if backbone == "small_cnn" else build_mobilenet_classifier(size)[0]
    _trained_looking(model, 1)
    export_model(model, str(tmp_path / "m"), image_size=size, threshold=0.4, backbone=backbone, data_description="t")
    restored = restore_keras_model(str(tmp_path / "m"))
    x = np.random.default_rng(5).uniform(0, 1, (3, size, size, 3)).astype(np.float32)
    expected = np.asarray(model(x, training=False)).reshape(-1)
    np.testing.assert_allclose(np.asarray(restored.model(x, training=False)).reshape(-1), expected, atol=1e-5)
    assert restored.exported.metadata.threshold == 0.4 and (restored.base is None) == (backbone == "small_cnn")
    assert restored.model.trainable_variables


def test_only_trained_backbones_can_be_fine_tuned(controlled_model_dir) -> None:
    with pytest.raises(ModelError, match="'controlled' model"):
        restore_keras_model(str(controlled_model_dir))
