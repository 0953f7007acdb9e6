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

from model.config import IngestConfig
from model.ingest import run_ingest
from model.records import parse_example, split_for_id
from model.sources import Rejection, VerifiedImage, label_of, verify_image


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
