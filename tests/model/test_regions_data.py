"""`model.data.regions_data`, the region recipe: both labels cut the way serving cuts regions, deterministic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.data import regions_data as rd


def _photo(seed: int, height: int = 480, width: int = 640) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(30, 200, (height // 40, width // 40, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((width, height), Image.BILINEAR))


def test_frame_examples_hold_both_labels_and_are_deterministic():
    photo = _photo(0)
    examples = rd.frame_examples(photo, [1, 2], flame=True)
    again = rd.frame_examples(photo, [1, 2], flame=True)
    labels = [label for label, _ in examples]
    assert "fire" in labels and "no_fire" in labels
    assert all(pixels.shape == (rd.IMAGE_SIZE, rd.IMAGE_SIZE, 3) and pixels.dtype == np.uint8 for _, pixels in examples)
    assert [lab for lab, _ in again] == labels
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(examples, again, strict=True))
    fire = [pixels for label, pixels in examples if label == "fire"]
    # a fire region holds flame-coloured pixels (strong red over blue), a clear photo region hardly any
    flame_share = [np.mean((p[..., 0].astype(int) - p[..., 2] > 120) & (p[..., 0] > 200)) for p in fire]
    assert min(flame_share) > 0.002
    clear = rd.frame_examples(photo, [1, 3], flame=False)
    assert clear and {label for label, _ in clear} == {"no_fire"}


def test_write_region_examples_writes_both_labels(tmp_path: Path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2):
        Image.fromarray(_photo(i)).save(photos / f"p{i}.jpg")
    counts = rd.write_region_examples(photos, tmp_path / "out", frames_per_photo=3, flame_share=0.7, workers=1)
    assert counts["fire"] > 0 and counts["no_fire"] > 0
    for label in ("fire", "no_fire"):
        files = sorted((tmp_path / "out" / label).glob("region-*.jpg"))
        assert len(files) == counts[label]
        assert Image.open(files[0]).size == (rd.IMAGE_SIZE, rd.IMAGE_SIZE)


def test_frame_threshold_flags_few_clear_frames_within_the_valid_bounds():
    labels = np.array([1] * 10 + [0] * 10)
    probs = np.concatenate([np.linspace(0.85, 0.99, 10), np.linspace(0.0, 0.3, 10)])
    maxima = np.linspace(0.0, 0.8, 101)
    threshold, choice = rd.frame_threshold(maxima, labels, probs, 0.01, 0.9, 1.0)
    assert choice["valid_floor"] <= threshold <= choice["valid_ceiling"]
    assert threshold == pytest.approx(np.quantile(maxima, 0.99), abs=1e-5)
    assert choice["clear_train_frames_flagged"] <= 0.01
    # never above the valid threshold for 90% recall, never below the one for 100%
    assert rd.frame_threshold(maxima + 0.199, labels, probs, 0.0, 0.9, 1.0)[0] == choice["valid_ceiling"]
    assert rd.frame_threshold(maxima * 0.1, labels, probs, 0.01, 0.9, 1.0)[0] == choice["valid_floor"]
