"""The backbone registry: every architecture `firewatch train` can build is declared here, once.

`BACKBONES` (name -> `Backbone`) is what the rest reads: the config's `backbone` choices
(`model.config.Backbone`), training and restore (`build`, `unfreeze`), and the tuning search space
(the `backbone` choices and each backbone's own parameters). Adding a backbone is one `Backbone(...)`
entry in `BACKBONES` below (with its builder; a large one in its own module here, as `mobilenet_v2`).

Both current backbones take `firewatch.core.imaging.preprocess` output (float32 [0,1], [N,S,S,3]) and return the
fire probability [N,1] (sigmoid). BatchNormalization uses momentum 0.9 so short training
runs give usable inference-mode statistics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BN_MOMENTUM = 0.9
FINE_TUNE_FROM_BLOCK = 14  # mobilenet_v2: features.14 .. features.18 are unfrozen for fine-tuning


def build_small_cnn(image_size: int, dropout: float = 0.2):
    """~100k-parameter CNN (~45M multiply-adds at 128 px); global average + max pooling so small flames still count."""
    import keras
    from keras import layers

    inputs = keras.Input((image_size, image_size, 3), name="images")
    x = layers.Rescaling(2.0, offset=-1.0)(inputs)
    for i, (filters, stride, pool) in enumerate(
        ((16, 2, False), (32, 1, True), (48, 1, True), (64, 1, True), (96, 1, False))
    ):
        x = layers.Conv2D(filters, 3, stride, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn{i}")(x)
        x = layers.ReLU()(x)
        if pool:
            x = layers.MaxPooling2D(2)(x)
    x = layers.Concatenate()([layers.GlobalAveragePooling2D()(x), layers.GlobalMaxPooling2D()(x)])
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(1, activation="sigmoid", name="fire_probability")(x)
    return keras.Model(inputs, outputs, name="small_cnn")


def build_mobilenet_classifier(image_size: int, dropout: float = 0.2):
    """(model, base): frozen ImageNet MobileNetV2 + new sigmoid head; BN stays in inference mode."""
    import keras
    from keras import layers

    from model.architectures.mobilenet_v2 import IMAGENET_MEAN, IMAGENET_STD, build_mobilenet_v2

    base = build_mobilenet_v2(image_size, include_top=False, load_weights=True)
    base.trainable = False
    inputs = keras.Input((image_size, image_size, 3), name="images")
    x = layers.Normalization(mean=list(IMAGENET_MEAN), variance=[s * s for s in IMAGENET_STD])(inputs)
    x = base(x, training=False)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(1, activation="sigmoid", name="fire_probability")(x)
    return keras.Model(inputs, outputs, name="mobilenet_v2_fire"), base


def unfreeze_top(base, from_block: int = FINE_TUNE_FROM_BLOCK) -> int:
    """Make the last blocks trainable (BatchNorm layers stay frozen); return trainable layer count."""
    from keras import layers

    base.trainable = True
    count = 0
    for layer in base.layers:
        block = _block_index(layer.name)
        layer.trainable = block is not None and block >= from_block and not isinstance(layer, layers.BatchNormalization)
        count += int(layer.trainable)
    return count


def _block_index(name: str) -> int | None:
    parts = name.split(".")
    if len(parts) >= 2 and parts[0] == "features" and parts[1].isdigit():
        return int(parts[1])
    return None


def _small_cnn(image_size: int, dropout: float) -> tuple[Any, None]:
    return build_small_cnn(image_size, dropout), None


@dataclass(frozen=True)
class Backbone:
    """One architecture: how to build it, how to fine-tune it and what the tuner may vary for it."""

    name: str  # what TrainConfig.backbone and the exported metadata say
    build: Callable[[int, float], tuple[Any, Any]]  # (image_size, dropout) -> (Keras model, pretrained base | None)
    preprocessing: str  # what the network does with `firewatch.core.imaging.preprocess` output
    pretrained: str | None = None  # the weights `build` loads into the base (None: trained from scratch)
    unfreeze: Callable[[Any, int], int] | None = None  # (base, from_block) -> trainable layers: the fine-tuning phase
    tuning: tuple[tuple[str, int, int], ...] = ()  # (TrainConfig int field, low, high) searched for it only


BACKBONES: dict[str, Backbone] = {
    backbone.name: backbone
    for backbone in (
        Backbone("small_cnn", _small_cnn, "rescaled to [-1, 1]"),
        Backbone(
            "mobilenet_v2",
            build_mobilenet_classifier,
            "ImageNet mean/std normalisation",
            pretrained="ImageNet (torchvision mobilenet_v2-b0353104.pth, `model.architectures.torch_weights`)",
            unfreeze=unfreeze_top,
            tuning=(("fine_tune_from_block", 10, 18),),
        ),
    )
}
BACKBONE_NAMES: tuple[str, ...] = tuple(BACKBONES)
