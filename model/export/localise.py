"""Where in a region the model sees fire: a class-activation map (an optional extra model output).

A region box is a coarse answer for a small flame: a 3% flame in a 0.25-scale region of a 1080p
frame fills well under 1% of the region, so the region's IoU with the flame is tiny whatever the
model does. The classifier already knows more: its last convolutional feature map ([h, w, C],
8 x 8 for the 128-px small CNN) feeds global pooling and one dense unit, so
`map[y, x] = relu(features[y, x, :] . w)` (w: the dense weights of the pooled features, average
and max parts added) says which cells pushed the score up (a class activation map, Zhou et al.
2016). No extra training is needed.

* `fire_map_model(model)`: a Keras model images -> (fire_probability [N], fire_map [N, h, w]);
  `model.export.export` adds it to the SavedModel as the OPTIONAL signature `locate_images` (the
  contract's `serving_default` and `predict_images` are unchanged, TFLite export ignores it).
* `refine_box(region_box, fire_map)` (`firewatch.core.regions`, where serving uses it): the box of
  the map's cells at or above half its maximum (bilinearly upsampled), as a sub-box of the region.

The serving pipeline calls `locate_images` instead of `predict_images` when the export has it (same
probabilities, plus the maps) and narrows every fire box with the maps;
`scripts/bench_small_fire.py` measures it (column "refined box").
"""

from __future__ import annotations

import numpy as np

from firewatch.core.model_contract import LOCATE_SIGNATURE
from firewatch.core.regions import refine_box

__all__ = ["LOCATE_SIGNATURE", "fire_map_model", "refine_box"]


def fire_map_model(model):
    """(images -> [fire_probability [N, 1], fire_map [N, h, w]]) for a model ending in global pooling + Dense,
    or None when the model has another shape."""
    import keras
    from keras import layers, ops

    pools = [
        layer for layer in model.layers if isinstance(layer, layers.GlobalAveragePooling2D | layers.GlobalMaxPooling2D)
    ]
    dense = [layer for layer in model.layers if isinstance(layer, layers.Dense)]
    if not pools or len(dense) != 1:
        return None
    features = pools[0].input
    if any(pool.input is not features for pool in pools):
        return None
    channels = int(features.shape[-1])
    kernel = ops.convert_to_numpy(dense[0].kernel).reshape(-1)
    if kernel.size != channels * len(pools):
        return None
    weights = kernel.reshape(len(pools), channels).sum(axis=0).astype(np.float32)
    cam = layers.Lambda(
        lambda f: ops.relu(ops.einsum("nhwc,c->nhw", f, ops.convert_to_tensor(weights))), name="fire_map"
    )(features)
    return keras.Model(model.inputs, [model.outputs[0], cam], name=f"{model.name}_locate")
