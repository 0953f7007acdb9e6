"""Colour augmentation: same crop and flips, colour jittered, some images grey; values stay in [0, 1]."""

from __future__ import annotations

import numpy as np


def test_colour_augment_jitters_colour_and_sometimes_greys():
    import tensorflow as tf

    from model.data.dataset import augment

    rng = np.random.default_rng(0)
    image = tf.constant(rng.integers(0, 255, (96, 96, 3), dtype=np.uint8))
    plain, coloured, grey = [], [], 0
    for i in range(40):
        seeds = tf.constant([[i, 1], [i, 2], [i, 3], [i, 4]], tf.int64)
        plain.append(augment(image, 64, seeds, colour=False).numpy())
        x = augment(image, 64, seeds, colour=True).numpy()
        coloured.append(x)
        grey += int(np.allclose(x[..., 0], x[..., 1], atol=1e-3) and np.allclose(x[..., 1], x[..., 2], atol=1e-3))
    assert all(0.0 <= x.min() and x.max() <= 1.0 for x in coloured)
    assert 2 <= grey <= 20  # about a fifth of 40
    assert not any(np.allclose(p, c) for p, c in zip(plain, coloured, strict=True))
    assert augment(image, 64, seeds, colour=True).numpy().tolist() == coloured[-1].tolist()  # seeded
