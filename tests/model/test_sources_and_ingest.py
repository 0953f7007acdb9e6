"""Verification of labelled images and the Beam ingest job (local runner)."""

from __future__ import annotations

import glob
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from firewatch.core.records import parse_example, split_for_id
from model.config import IngestConfig
from model.data.ingest import run_ingest
from model.data.sources import Rejection, VerifiedImage, check_path, label_of, verify_image


def _png(seed: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def test_valid_image_is_verified():
    data = _png()
    result = verify_image("/data/fire/a.png", data)
    assert isinstance(result, VerifiedImage)
    assert (result.label, result.format, result.width) == ("fire", "png", 40)
    assert label_of("gs://bucket/root/no_fire/b.jpg") == "no_fire"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("fire/text.jpg", b"this is not an image at all", "not a recognised image format"),
        ("fire/empty.png", b"", "empty"),
        ("no_fire/truncated.jpg", _jpeg()[: len(_jpeg()) // 2], "corrupt JPEG"),
        ("no_fire/header-only.jpg", _jpeg()[:200], "truncated"),
        ("no_fire/truncated.png", _png()[:120], "PNG"),
        ("fire/notes.txt", b"hello", "not an image file name"),
        ("smoke/a.png", _png(), "not a label"),
    ],
)
def test_bad_files_are_rejected_with_a_reason(name: str, data: bytes, reason: str):
    result = verify_image(f"/root/{name}", data)
    assert isinstance(result, Rejection)
    assert result.path == f"/root/{name}"
    assert reason.lower() in result.reason.lower()


def _read_split(out: Path) -> dict[str, tuple[str, str, str]]:
    rows = {}
    for path in glob.glob(str(out / "*.tfrecord")):
        split = Path(path).name.split("-")[0]
        for raw in tf.data.TFRecordDataset(path):
            ex = parse_example(raw)
            rows[ex["id"].numpy().decode()] = (split, ex["label"].numpy().decode(), ex["source_path"].numpy().decode())
    return rows


def test_ingest_writes_split_records_and_reports_rejections(synthetic_images_dir: Path, tmp_path: Path):
    root = tmp_path / "images"
    shutil.copytree(synthetic_images_dir, root)
    (root / "fire" / "garbage.jpg").write_bytes(b"\x00\x01 not a jpeg")
    first = next((root / "no_fire").glob("*.jpg"))
    (root / "no_fire" / "truncated.jpg").write_bytes(first.read_bytes()[: len(first.read_bytes()) // 2])
    (root / "no_fire" / "zz-copy.jpg").write_bytes(first.read_bytes())

    summary = run_ingest(IngestConfig(input=str(root), output=str(tmp_path / "out1")))
    n_good = 36
    assert summary["images_written"] == n_good
    assert sum(s["fire"] for s in summary["splits"].values()) == 18
    reasons = {Path(r["path"]).name: r["reason"] for r in summary["rejected"]}
    assert set(reasons) == {"garbage.jpg", "truncated.jpg", "zz-copy.jpg"}
    assert "not a recognised image format" in reasons["garbage.jpg"]
    assert "corrupt" in reasons["truncated.jpg"]
    assert "duplicate" in reasons["zz-copy.jpg"]
    on_disk = json.loads((tmp_path / "out1" / "ingest_summary.json").read_text())
    assert on_disk["rejected_count"] == 3
    for split in ("train", "valid", "test"):
        assert glob.glob(str(tmp_path / "out1" / f"{split}-[0-9][0-9][0-9][0-9][0-9]-of-[0-9]*.tfrecord"))

    rows = _read_split(tmp_path / "out1")
    assert len(rows) == n_good
    for id_, (split, label, source) in rows.items():
        assert split == split_for_id(id_)
        assert Path(source).parent.name == label

    again = _read_split(Path(run_ingest(IngestConfig(input=str(root), output=str(tmp_path / "out2")))["output"]))
    assert again == rows  # re-running gives the same split


def test_ingest_missing_input_is_a_clear_error(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run_ingest(IngestConfig(input=str(tmp_path / "nope"), output=str(tmp_path / "out")))


def test_check_path_rejects_files_outside_the_label_folders():
    assert check_path("/root/fire/a.jpg", "/root") is None
    top = check_path("/root/top.jpg", "/root")
    nested = check_path("/root/fire/2023/x.jpg", "/root")
    assert top is not None and "directly under ROOT" in top.reason
    assert nested is not None and "nested below a label folder" in nested.reason
    # without the root, only the parent folder is checked
    assert check_path("/root/fire/no_fire/x.jpg") is None
    assert check_path("/root/fire/no_fire/x.jpg", "/root") is not None


@pytest.fixture(scope="module")
def tiny_ingest(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """4 images (too few for three splits) plus two misplaced files, ingested."""
    from model.data.synth import write_dataset

    tmp = tmp_path_factory.mktemp("tiny-ingest")
    root = tmp / "images"
    write_dataset(root, 4, seed=0, size=96, workers=1)  # seed 0: all four hash into train
    image = next((root / "fire").glob("*.jpg")).read_bytes()
    (root / "top.jpg").write_bytes(image)
    (root / "fire" / "2023").mkdir()
    (root / "fire" / "2023" / "x.jpg").write_bytes(_jpeg())
    return tmp, run_ingest(IngestConfig(input=str(root), output=str(tmp / "records")))


def test_misplaced_files_are_rejected_not_dropped(tiny_ingest: tuple[Path, dict]):
    _, summary = tiny_ingest
    assert summary["files_listed"] == 6
    assert summary["images_written"] == 4
    reasons = {Path(r["path"]).relative_to(Path(summary["input"])).as_posix(): r["reason"] for r in summary["rejected"]}
    assert set(reasons) == {"top.jpg", "fire/2023/x.jpg"}
    assert "directly under ROOT" in reasons["top.jpg"]
    assert "nested below a label folder" in reasons["fire/2023/x.jpg"]
    assert summary["rejected_by_reason"] == {"misplaced file": 2}


def test_empty_split_is_a_clear_error(tiny_ingest: tuple[Path, dict], demo_model_dir: Path):
    from model.config import EvaluateConfig, TrainConfig
    from model.errors import EmptySplitError
    from model.evaluation.evaluate import evaluate
    from model.training.train import train

    tmp, summary = tiny_ingest
    assert {split: c["total"] for split, c in summary["splits"].items()} == {"train": 4, "valid": 0, "test": 0}
    data = str(tmp / "records")

    with pytest.raises(EmptySplitError) as info:
        train(TrainConfig(data=data, output=str(tmp / "model"), epochs=1, verbose=0))
    assert f"the valid split in {data} has no images" in str(info.value)
    assert "images ingested per split: train 4, valid 0, test 0" in str(info.value)
    assert "add more images" in str(info.value)
    assert not (tmp / "model").exists()

    with pytest.raises(EmptySplitError, match="the test split"):
        evaluate(EvaluateConfig(model=str(demo_model_dir), data=data, output=str(tmp / "eval")))


def test_empty_train_split_is_a_clear_error(tmp_path: Path):
    from model.data.dataset import train_dataset
    from model.errors import EmptySplitError

    for split in ("train", "valid", "test"):
        with tf.io.TFRecordWriter(str(tmp_path / f"{split}-00000-of-00001.tfrecord")):
            pass  # ingest writes empty shards for splits without images
    with pytest.raises(EmptySplitError, match=r"the train split .* \(images ingested per split: train 0, valid 0"):
        train_dataset(str(tmp_path), 64, 8, seed=0)
