"""Batch mode end to end on the local runner with file sinks (no emulators needed).

Every input becomes a prediction or a dead letter with a reason; fire images get
explanation rows and a readable overlay PNG; TFRecords from the ingest job and Parquet
output work too.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from batch.config import BatchConfig
from batch.runner import run
from firewatch.beam.sources import image_pattern, source_kind


def read_jsonl(folder: Path, name: str) -> list[dict]:
    rows = []
    for path in sorted(folder.glob(f"{name}-*.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


@pytest.fixture(scope="module")
def batch_run(tmp_path_factory, demo_model_dir, synthetic_images_dir):
    root = tmp_path_factory.mktemp("batch-in")
    images = shutil.copytree(synthetic_images_dir, root / "images")
    (images / "synth_summary.json").unlink(missing_ok=True)  # the generator's notes, not a frame
    good = [p for p in images.rglob("*") if p.is_file()]
    bad = images / "bad"
    bad.mkdir()
    (bad / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    (bad / "truncated.jpg").write_bytes(good[0].read_bytes()[:300])
    (bad / "notes.txt").write_text("not an image")
    out = root / "out"
    summary = run(BatchConfig(model=str(demo_model_dir), input=str(images), output=str(out)))
    return {"good": good, "bad": 3, "out": out, "summary": summary}


def test_every_input_is_a_prediction_or_a_dead_letter(batch_run):
    predictions = read_jsonl(batch_run["out"], "predictions")
    dead = read_jsonl(batch_run["out"], "dead_letters")
    assert len(predictions) == len(batch_run["good"])
    assert len(dead) == batch_run["bad"]
    assert {Path(d["source_uri"]).name for d in dead} == {"corrupt.jpg", "truncated.jpg", "notes.txt"}
    assert all(d["stage"] == "decode" and d["reason"] for d in dead)
    assert {Path(p["source_uri"]) for p in predictions} == {p for p in batch_run["good"]}
    summary = batch_run["summary"]
    assert (summary.predictions, summary.dead_letters) == (len(predictions), len(dead))
    assert "images/s" in summary.render()


def test_labels_follow_the_folder_truth_on_synthetic_data(batch_run):
    predictions = read_jsonl(batch_run["out"], "predictions")
    truth = [Path(p["source_uri"]).parent.name for p in predictions]
    correct = sum(p["label"] == t for p, t in zip(predictions, truth, strict=True))
    assert correct / len(predictions) >= 0.9
    assert all(p["mode"] == "batch" and p["camera_id"] in ("fire", "no_fire") for p in predictions)


def test_fire_images_have_explanations_with_overlays(batch_run):
    predictions = read_jsonl(batch_run["out"], "predictions")
    explanations = read_jsonl(batch_run["out"], "explanations")
    fire_keys = {p["frame_key"] for p in predictions if p["label"] == "fire"}
    assert fire_keys and {e["frame_key"] for e in explanations} == fire_keys
    for row in explanations[:3]:
        assert row["approximation_error"] < 0.05 and not row["approximation_flagged"]
        assert row["top_regions"] and 0 < row["top_regions"][0]["share"] <= 1
        with Image.open(row["overlay_uri"]) as overlay:
            assert overlay.width >= 256 and overlay.mode in ("RGB", "RGBA")


def test_tfrecords_from_ingest_with_a_damaged_record(tmp_path, controlled_model_dir):
    import tensorflow as tf

    from firewatch.core.records import make_example
    from tests.fixtures.controlled_model import colour_png

    rng = np.random.default_rng(3)
    frames = [("fire", colour_png(rng, fire=True)), ("no_fire", colour_png(rng, fire=False))]
    path = tmp_path / "test-00000-of-00001.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for label, data in frames:
            writer.write(make_example(data, "png", label, f"/data/{label}/{label}.png"))
        writer.write(b"garbage that is not a tf.Example")
    out = tmp_path / "out"
    summary = run(BatchConfig(model=str(controlled_model_dir), input=str(path), output=str(out), explain=False))
    predictions = read_jsonl(out, "predictions")
    dead = read_jsonl(out, "dead_letters")
    assert sorted(p["source_uri"] for p in predictions) == [
        "/data/fire/fire.png",
        "/data/no_fire/no_fire.png",
    ]
    assert [d["stage"] for d in dead] == ["read"] and summary.dead_letters == 1
    by_source = {p["source_uri"]: p["label"] for p in predictions}
    assert by_source == {"/data/fire/fire.png": "fire", "/data/no_fire/no_fire.png": "no_fire"}


def test_parquet_sink_has_the_bigquery_columns(tmp_path, demo_model_dir, synthetic_images_dir):
    import pyarrow.parquet as pq

    from infra.resources import schema_for_table as load_schema

    out = tmp_path / "out"
    run(
        BatchConfig(
            model=str(demo_model_dir),
            input=str(synthetic_images_dir),
            output=str(out),
            output_format="parquet",
            explain=False,
        )
    )
    table = pq.read_table(sorted(out.glob("predictions-*.parquet")))
    images = [p for p in Path(synthetic_images_dir).rglob("*") if p.suffix == ".jpg"]
    assert table.num_rows == len(images)
    assert table.column_names == [f["name"] for f in load_schema("predictions")]


def test_source_kinds_and_patterns(tmp_path):
    assert source_kind("bq:SELECT uri FROM t") == "bigquery"
    assert source_kind("gs://b/records/train-*.tfrecord") == "tfrecord"
    assert source_kind("tfrecord:/data/x-*") == "tfrecord"
    assert source_kind("gs://b/frames/*.jpg") == "images"
    assert image_pattern(str(tmp_path)) == str(tmp_path / "**")
    assert image_pattern("gs://b/frames/") == "gs://b/frames/**"
