"""The real-negatives build step: a fixed split by scene, pairs kept together, an honest fallback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.data import real_negatives as rn


def test_split_is_fixed_by_scene_and_pairs_stay_together():
    splits = {name: rn.split_for_scene(scene) for name, scene in rn.OPENCV_PHOTOS.items()}
    assert splits == {name: rn.split_for_scene(scene) for name, scene in rn.OPENCV_PHOTOS.items()}
    for a, b in (("aloeL.jpg", "aloeR.jpg"), ("leuvenA.jpg", "leuvenB.jpg"), ("graf1.png", "graf3.png")):
        assert splits[a] == splits[b]
    scenes = set(rn.OPENCV_PHOTOS.values()) | set(rn.WALLPAPER_PHOTOS)
    scenes |= {scene for _, photos in rn.BACKGROUND_PHOTOS.values() for scene in photos.values()}
    held = sum(rn.split_for_scene(s) == "heldout" for s in scenes)
    assert 0.2 < held / len(scenes) < 0.6  # both parts get photos


def test_fallback_without_debian_packages_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def no_registry(package: str, into: Path) -> Path:
        raise subprocess.CalledProcessError(100, ["apt-get", "download", package], stderr="E: no registry")

    monkeypatch.setattr(rn, "apt_unpack", no_registry)
    manifest = rn.prepare(tmp_path / "neg")
    assert manifest["fallback_skimage_only"] and "FALLBACK" in manifest["note"]
    assert len(manifest["problems"]) == 2 + len(rn.BACKGROUND_PHOTOS) and "no registry" in manifest["problems"][0]
    assert manifest["counts"]["heldout"] > 0 and manifest["counts"]["train"] > 0
    assert sum(manifest["counts"].values()) == len(rn.SKIMAGE_PHOTOS)
    assert json.loads((tmp_path / "neg" / "manifest.json").read_text()) == manifest
    heldout = sorted(p.name for p in (tmp_path / "neg" / "heldout").iterdir())
    assert heldout == sorted(f["file"].split("/")[1] for f in manifest["files"] if f["split"] == "heldout")
    assert all(max(Image.open(p).size) <= rn.MAX_SIDE for p in (tmp_path / "neg" / "train").iterdir())


def test_package_photos_go_by_scene_and_skimage_to_train(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def fake_unpack(package: str, into: Path) -> Path:  # the .deb's layout, with two small photos
        folder = into / rn.OPENCV_DIR
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("aloeL.jpg", "apple.jpg"):
            Image.fromarray(np.full((40, 60, 3), 200, np.uint8)).save(folder / name)
        return into

    monkeypatch.setattr(rn, "apt_unpack", fake_unpack)
    manifest = rn.prepare(tmp_path / "neg")
    by_file = {f["file"].split("/")[1]: f["split"] for f in manifest["files"]}
    assert by_file["opencv-aloeL.jpg"] == rn.split_for_scene("aloe")
    assert by_file["opencv-apple.jpg"] == rn.split_for_scene("apple")
    assert all(split == "train" for name, split in by_file.items() if name.startswith("skimage-"))


def test_training_crops_are_deterministic(tmp_path: Path):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 255, (300, 500, 3), dtype=np.uint8)).save(photos / f"{name}.jpg")
    assert rn.write_training_crops(photos, tmp_path / "one", 4, 96, seed=1) == 8
    rn.write_training_crops(photos, tmp_path / "two", 4, 96, seed=1)
    one, two = sorted((tmp_path / "one").iterdir()), sorted((tmp_path / "two").iterdir())
    assert [p.name for p in one] == [f"real-{n}-{k:02d}.jpg" for n in "ab" for k in range(4)]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(one, two, strict=True))
    assert {Image.open(p).size for p in one} == {(96, 96)}
