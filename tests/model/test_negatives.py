"""False alarms on real non-fire photos: tiling and accounting, checked with a model whose output the test controls.

The controlled model scores sigmoid(8 * (mean red - mean blue)) with threshold 0.5, so a tile
fires exactly when it is mostly red. The test photo is 256 x 512 px, red left of x=400 and blue
to its right; with the model's 64 px input the tiles are 64, 128 and 256 px (plus the full frame):

* 64 px: 4 rows x 8 columns; columns 0-5 are red, column 6 (x 384-447) is 25% red: 24 of 32 fire
* 128 px: 2 x 4; columns 0-2 red, column 3 (384-511) is 12.5% red: 6 of 8 fire
* 256 px: 1 x 2; column 1 (256-511) is 56% red (p = 0.73): 2 of 2 fire
* the full frame is 78% red: fires
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from firewatch.cli import main
from model.evaluation.negatives import FULL_FRAME, ScoredTile, Tile, false_alarm_report, tile_boxes, tiles_for_image

RED, BLUE = (255, 0, 0), (0, 0, 255)


def _half_red(path: Path) -> None:
    pixels = np.zeros((256, 512, 3), np.uint8)
    pixels[:, :400] = RED
    pixels[:, 400:] = BLUE
    Image.fromarray(pixels).save(path)


@pytest.fixture
def tiny_tfrecords(tmp_path: Path) -> Path:
    """A test split of four coloured frames (two the controlled model calls fire), written as ingest does."""
    import tensorflow as tf

    from firewatch.core.records import make_example
    from tests.fixtures.controlled_model import colour_png

    folder = tmp_path / "records"
    folder.mkdir()
    rng = np.random.default_rng(0)
    with tf.io.TFRecordWriter(str(folder / "test-00000-of-00001.tfrecord")) as writer:
        for i, fire in enumerate([True, False, True, False]):
            label = "fire" if fire else "no_fire"
            writer.write(make_example(colour_png(rng, fire), "png", label, f"{label}/{i}.png"))
    return folder


@pytest.fixture
def negatives_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "negatives"
    (folder / "sub").mkdir(parents=True)
    _half_red(folder / "half_red.png")
    Image.fromarray(np.full((256, 512, 3), BLUE, np.uint8)).save(folder / "sub" / "blue.jpg")
    (folder / "notes.txt").write_text("not an image: skipped")
    return folder


def test_tile_boxes_are_centred_and_complete():
    assert tile_boxes(256, 512, 128) == [(y, x) for y in (0, 128) for x in (0, 128, 256, 384)]
    assert tile_boxes(300, 300, 128) == [(22, 22), (22, 150), (150, 22), (150, 150)]  # 44 px margin split evenly
    assert tile_boxes(100, 500, 128) == []
    tiles = tiles_for_image("a.jpg", 256, 512, 64)
    assert [sum(t.side == s for t in tiles) for s in (64, 128, 256, FULL_FRAME)] == [32, 8, 2, 1]


def test_report_counts_per_side_and_ranks_worst_images():
    def scored(image: str, side: int, p: float) -> ScoredTile:
        return ScoredTile(Tile(image, 0, 0, side or 10, side or 10, side), p)

    tiles = [scored("a", 64, 0.9), scored("a", 64, 0.1), scored("a", FULL_FRAME, 0.5)]
    tiles += [scored("b", 64, 0.2)] * 7 + [scored("c", 128, 0.95)]
    report = false_alarm_report(tiles, threshold=0.5)
    assert (report["tiles"], report["false_alarms"], report["images"]) == (11, 3, 3)
    assert report["per_1000_tiles"] == pytest.approx(1000 * 3 / 11)
    assert report["per_tile_side"]["64"] == {"tiles": 9, "false_alarms": 1, "per_1000_tiles": pytest.approx(1000 / 9)}
    assert report["per_tile_side"]["full_frame"]["false_alarms"] == 1  # p == threshold counts as fire
    assert [w["image"] for w in report["worst_images"]] == ["a", "c", "b"]
    assert report["images_with_false_alarms"] == 2


def test_evaluate_negatives_with_a_controlled_model(
    controlled_model_dir: Path, tiny_tfrecords: Path, negatives_dir: Path, tmp_path: Path
):
    out = tmp_path / "eval"
    argv = ["evaluate", "--model", str(controlled_model_dir), "--data", str(tiny_tfrecords)]
    assert main([*argv, "--output", str(out), "--negatives", str(negatives_dir)]) == 0
    report = json.loads((out / "evaluation.json").read_text())
    neg = report["real_negatives"]
    assert report["accuracy"] == 1.0 and report["count"] == 4  # the test-split metrics stay next to it
    assert (neg["images"], neg["tiles"]) == (2, 2 * 43)
    assert {k: v["false_alarms"] for k, v in neg["per_tile_side"].items()} == {
        "64": 24,
        "128": 6,
        "256": 2,
        "full_frame": 1,
    }
    assert neg["false_alarms"] == 33
    assert neg["per_1000_tiles"] == pytest.approx(1000 * 33 / 86)
    worst = neg["worst_images"][0]
    assert (worst["image"], worst["tiles"], worst["false_alarms"]) == ("half_red.png", 43, 33)
    assert worst["max_probability"] > 0.99
    assert neg["worst_images"][1]["image"] == "sub/blue.jpg" and neg["worst_images"][1]["false_alarms"] == 0
    assert neg["clear_camera"]["frames_at_threshold"] > 0 and neg["clear_camera"]["alerts_per_hour"] > 0
    sheet = Image.open(out / "false_alarms.png")
    assert sheet.size[0] > 400


def test_shrinks_large_photos_before_tiling(controlled_model_dir: Path, tmp_path: Path):
    from firewatch.cloud.models import load_exported
    from model.evaluation.negatives import score_negatives

    folder = tmp_path / "big"
    folder.mkdir()
    _half_red(folder / "big.png")
    scored = score_negatives(load_exported(str(controlled_model_dir)), folder, max_side=256)  # 128 x 256 after
    assert [sum(s.tile.side == side for s in scored) for side in (64, 128, 256, FULL_FRAME)] == [8, 2, 0, 1]


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_bad_negatives_folder_is_a_user_error(
    make: str, controlled_model_dir: Path, tiny_tfrecords: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    folder = tmp_path / "neg"
    if make == "empty":
        folder.mkdir()
    argv = ["evaluate", "--model", str(controlled_model_dir), "--data", str(tiny_tfrecords)]
    assert main([*argv, "--output", str(tmp_path / "e"), "--negatives", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "--negatives" in err and ("not a folder" if make == "missing" else "holds no images") in err
