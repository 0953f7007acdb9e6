"""The MobileNetV2 backbone really carries torchvision's ImageNet weights (read without torch)."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from model.architectures.torch_weights import TorchWeightsError, load_state_dict


@pytest.fixture(scope="module")
def imagenet_model():
    from model.architectures.mobilenet_v2 import build_mobilenet_v2

    return build_mobilenet_v2(224, include_top=True, load_weights=True)


def _top5(model, name: str) -> list[int]:
    import tensorflow as tf
    from skimage import data

    from firewatch.core.imaging import preprocess
    from model.architectures.mobilenet_v2 import imagenet_normalize

    x = imagenet_normalize(preprocess(getattr(data, name)()[None], 224))
    logits = np.asarray(model(x, training=False))[0]
    probs = tf.nn.softmax(logits).numpy()
    return [int(i) for i in np.argsort(probs)[::-1][:5]]


def test_coffee_is_espresso(imagenet_model):
    assert _top5(imagenet_model, "coffee")[0] == 967


def test_chelsea_is_a_cat(imagenet_model):
    assert 281 <= _top5(imagenet_model, "chelsea")[0] <= 285


def test_state_dict_is_complete():
    from model.architectures.mobilenet_v2 import weights_path

    state = load_state_dict(weights_path())
    assert state["features.0.0.weight"].shape == (32, 3, 3, 3)
    assert state["classifier.1.weight"].shape == (1000, 1280)
    assert state["features.0.0.weight"].dtype == np.float32


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_unpickler_refuses_arbitrary_globals(tmp_path: Path):
    path = tmp_path / "evil.pth"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"w": _Evil()}, protocol=2))
    with pytest.raises(TorchWeightsError, match="refusing"):
        load_state_dict(path)
    legacy = tmp_path / "legacy.pth"
    buf = io.BytesIO()
    pickle.dump(_Evil(), buf, protocol=2)
    legacy.write_bytes(buf.getvalue())
    with pytest.raises(TorchWeightsError, match="refusing"):
        load_state_dict(legacy)
