"""`model.export.localise`: the optional class-activation map of the exported model narrows a firing region's box."""

from __future__ import annotations

import numpy as np
import pytest


def test_fire_map_narrows_a_region_box():
    from model.architectures.backbones import build_small_cnn
    from model.export.localise import fire_map_model, refine_box

    model = build_small_cnn(128)
    locator = fire_map_model(model)
    images = np.random.default_rng(0).uniform(0, 1, (2, 128, 128, 3)).astype(np.float32)
    probs, maps = locator(images, training=False)
    assert np.allclose(np.asarray(probs).reshape(-1), np.asarray(model(images, training=False)).reshape(-1), atol=1e-5)
    assert np.asarray(maps).shape == (2, 8, 8) and np.asarray(maps).min() >= 0
    region = (0.5, 0.25, 0.75, 0.75)
    hot = np.zeros((8, 8), np.float32)
    hot[6, 1] = 1.0  # evidence in one cell near the bottom left
    x0, y0, x1, y1 = refine_box(region, hot)
    assert region[0] <= x0 < x1 <= region[0] + 0.25 * 0.4 and y0 >= region[1] + 0.5 * 0.6 and y1 <= region[3]
    assert refine_box(region, np.zeros((8, 8))) == pytest.approx(region)
