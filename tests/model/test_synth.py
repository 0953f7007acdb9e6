"""The procedural generator: deterministic, flames drawn where the mask says, dataset layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from model.data.synth import render_example, render_fire_frame, render_negative_frame, write_dataset


def test_generator_is_deterministic():
    a, mask_a = render_fire_frame(np.random.default_rng([3, 1]), size=160)
    b, mask_b = render_fire_frame(np.random.default_rng([3, 1]), size=160)
    assert np.array_equal(a, b) and np.array_equal(mask_a, mask_b)
    c, _ = render_fire_frame(np.random.default_rng([3, 2]), size=160)
    assert not np.array_equal(a, c)
    assert np.array_equal(render_example(5, 9)[1], render_example(5, 9)[1])


def test_fire_frame_mask_marks_bright_warm_flame_pixels():
    for i in range(8):
        img, mask = render_fire_frame(np.random.default_rng(i), size=192)
        assert img.shape == (192, 192, 3) and img.dtype == np.uint8 and mask.shape == (192, 192)
        assert 20 < mask.sum() < 0.6 * mask.size
        flame = img[mask].astype(float)
        assert flame[:, 0].mean() > 180  # flames are bright red-channel (yellow-white core, orange edges)
        assert flame[:, 0].mean() > flame[:, 2].mean() + 60


def test_negative_frames_vary():
    frames = [render_negative_frame(np.random.default_rng(i), size=128) for i in range(6)]
    assert all(f.shape == (128, 128, 3) and f.dtype == np.uint8 for f in frames)
    assert len({f.tobytes() for f in frames}) == 6


def test_write_dataset_layout(tmp_path: Path):
    summary = write_dataset(tmp_path, 10, seed=1, size=96, workers=1)
    assert summary["per_label"] == {"no_fire": 5, "fire": 5}
    assert "synthetic" in summary["data_description"]
    assert len(list((tmp_path / "fire").glob("*.jpg"))) == 5
    assert len(list((tmp_path / "no_fire").glob("*.jpg"))) == 5
    again = tmp_path / "again"
    write_dataset(again, 10, seed=1, size=96, workers=1)
    for path in (tmp_path / "fire").glob("*.jpg"):
        assert path.read_bytes() == (again / "fire" / path.name).read_bytes()


def test_skin_and_lamp_negatives_are_warm_but_not_flames():
    from model.data.synth import _neg_lamp, _neg_skin

    for make in (_neg_skin, _neg_lamp):
        frames = [make(np.random.default_rng(i), 128) for i in range(4)]
        assert all(f.shape == (128, 128, 3) for f in frames)
        warm = np.mean([(f[..., 0] > f[..., 2] + 0.15).mean() for f in frames])
        assert warm > 0.05  # a warm distractor: red clearly above blue on part of the frame
