"""ExplainFrames in a small Beam pipeline: overlay PNGs, explanation rows, dead letters, metrics."""

from __future__ import annotations

import glob
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.metrics.metric import MetricsFilter
from PIL import Image

from firewatch.beam.dead_letters import DEAD as DEAD_LETTER_TAG
from firewatch.beam.explanation import ExplainFrames
from firewatch.core.explain import ExplainConfig, chosen_for_explanation, sample_value
from firewatch.core.imaging import to_model_input
from firewatch.core.overlay import overlay_uri
from firewatch.core.prediction import Prediction
from tests.fixtures.schema_check import check_row, load_schema
from tests.fixtures.toy_model import TOY_SIZE, blob_frame, load_toy_model


def _row(key: str, label: str) -> Prediction:
    """A prediction chosen for explanation (the choice itself is made when scoring)."""
    return Prediction(
        frame_key=key,
        camera_id=key.split("/")[0],
        frame_id=key.split("/")[1],
        captured_at=None,
        processed_at=datetime(2026, 11, 22, tzinfo=UTC),
        probability=0.9 if label == "fire" else 0.1,
        threshold=0.5,
        model_version="toy-v1",
        mode="batch",
        source_uri=f"gs://bucket/{key}.jpg",
        message_id="m-" + key,
        explain=True,
    )


def _run(elements: list, prefix: str, model_dir: str, config: ExplainConfig, mode: str):
    pipeline = beam.Pipeline(runner="BundleBasedDirectRunner")
    outputs = (
        pipeline
        | beam.Create(elements, reshuffle=False)
        | beam.ParDo(ExplainFrames(model_dir, prefix, config, mode, loader=load_toy_model)).with_outputs(
            DEAD_LETTER_TAG, main="rows"
        )
    )
    # Rows must be JSON-serialisable (BigQuery insert): write them as JSON lines and read them back.
    outputs.rows | "Rows" >> beam.Map(json.dumps) | "WriteRows" >> beam.io.WriteToText(f"{prefix}.rows")
    dead = outputs[DEAD_LETTER_TAG] | "Dead" >> beam.Map(json.dumps)
    dead | "WriteDead" >> beam.io.WriteToText(f"{prefix}.dead")
    result = pipeline.run()
    result.wait_until_finish()
    return _read_lines(f"{prefix}.rows"), _read_lines(f"{prefix}.dead"), result


def _read_lines(pattern: str) -> list[dict]:
    return [json.loads(line) for path in glob.glob(f"{pattern}*") for line in Path(path).read_text().splitlines()]


@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_explain_frames_writes_pngs_rows_and_dead_letters(tmp_path: Path, toy_model_dir: str, mode: str):
    rng = np.random.default_rng(5)
    fire_pixels, _ = blob_frame(rng, 96)
    calm = np.full((96, 96, 3), 90, np.uint8)
    elements = [
        (_row("cam-1/f1", "fire"), to_model_input(fire_pixels, TOY_SIZE), fire_pixels),
        (_row("cam-1/f2", "fire"), to_model_input(fire_pixels[:, ::-1], TOY_SIZE), None),  # no original
        (_row("cam-3/bad", "fire"), np.zeros((5, 5, 3), np.float32), calm),  # wrong shape: dead letter
    ]
    prefix = str(tmp_path / "explanations")
    rows, dead, result = _run(elements, prefix, toy_model_dir, ExplainConfig(steps=16), mode)

    assert sorted(r["frame_key"] for r in rows) == ["cam-1/f1", "cam-1/f2"]
    fields = load_schema("explanations")
    for row in rows:
        check_row(row, fields)
        assert set(row) == {f["name"] for f in fields}
        assert row["mode"] == mode and row["model_version"] == "toy-v1"
        assert row["method"] == "integrated_gradients+xrai" and row["ig_steps"] == 16
        assert row["baselines"] == ["black", "white"] and row["approximation_error"] < 0.05
        assert row["overlay_uri"] == overlay_uri(prefix, "toy-v1", row["frame_key"])
        assert 1 <= len(row["top_regions"]) <= 3 and row["compute_ms"] > 0
        with Image.open(row["overlay_uri"]) as picture:
            assert picture.format == "PNG" and picture.width >= 2 * 256
    pngs = sorted(p.name for p in (tmp_path / "explanations" / "toy-v1").glob("*.png"))
    assert pngs == sorted(Path(overlay_uri(prefix, "toy-v1", key)).name for key in ("cam-1/f1", "cam-1/f2"))

    assert len(dead) == 1
    check_row(dead[0], load_schema("dead_letters"), "dead_letter")
    assert dead[0]["stage"] == "explain" and dead[0]["camera_id"] == "cam-3" and dead[0]["mode"] == mode
    assert "cam-3/bad" in dead[0]["reason"] and dead[0]["source_uri"] == "gs://bucket/cam-3/bad.jpg"

    metrics = result.metrics().query(MetricsFilter().with_name("explain_ms"))["distributions"]
    assert metrics and metrics[0].committed.count == 2 and metrics[0].committed.min > 0


def test_negatives_are_sampled_by_frame_key():
    config = ExplainConfig(steps=4, xrai=False, sample_rate_negatives=0.5)
    keys = [f"cam-9/n{i}" for i in range(40)]
    chosen = [k for k in keys if chosen_for_explanation(k, "no_fire", config)]
    assert chosen == [k for k in keys if sample_value(k) < 0.5] and 0 < len(chosen) < len(keys)
    assert chosen == [k for k in keys if chosen_for_explanation(k, "no_fire", config)]  # a retry chooses the same
    assert all(chosen_for_explanation(k, "fire", config) for k in keys)
    assert not any(chosen_for_explanation(k, "no_fire", ExplainConfig(sample_rate_negatives=0)) for k in keys)


def test_integrated_gradients_without_xrai_has_no_regions(tmp_path: Path, toy_model_dir: str):
    calm = np.full((64, 64, 3), 90, np.uint8)
    config = ExplainConfig(steps=4, xrai=False)
    rows, dead, _ = _run(
        [(_row("cam-9/n1", "no_fire"), to_model_input(calm, TOY_SIZE), calm)],
        str(tmp_path / "o"),
        toy_model_dir,
        config,
        "batch",
    )
    assert not dead and [r["frame_key"] for r in rows] == ["cam-9/n1"]
    assert all(r["top_regions"] == [] and r["method"] == "integrated_gradients" for r in rows)


def test_overlay_png_from_model_input_is_readable(tmp_path: Path, toy_model_dir: str):
    pixels, _ = blob_frame(np.random.default_rng(8), TOY_SIZE)
    rows, _, _ = _run(
        [(_row("cam-1/x", "fire"), to_model_input(pixels, TOY_SIZE), None)],
        str(tmp_path / "out"),
        toy_model_dir,
        ExplainConfig(steps=8),
        "batch",
    )
    picture = Image.open(io.BytesIO(Path(rows[0]["overlay_uri"]).read_bytes()))
    assert picture.size[0] >= 512 and picture.size[1] >= 256


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="mode"):
        ExplainFrames("m", "out", mode="online")
    with pytest.raises(ValueError, match="output_prefix"):
        ExplainFrames("m", "")


@pytest.mark.stack
def test_overlays_go_to_gcs_and_rows_load_into_bigquery(gcp_resources, toy_model_dir: str, tmp_path: Path):
    """On the emulators: the PNG lands in the bucket, the row is accepted by the explanations table."""
    from firewatch.cloud import clients as gcp

    pixels, _ = blob_frame(np.random.default_rng(9), 96)
    prefix = f"{gcp_resources.bucket_uri()}/explanations"
    local = str(tmp_path / "out")
    pipeline = beam.Pipeline(runner="BundleBasedDirectRunner")
    outputs = (
        pipeline
        | beam.Create([(_row("cam-1/g1", "fire"), to_model_input(pixels, TOY_SIZE), pixels)], reshuffle=False)
        | beam.ParDo(
            ExplainFrames(toy_model_dir, prefix, ExplainConfig(steps=8), "streaming", loader=load_toy_model)
        ).with_outputs(DEAD_LETTER_TAG, main="rows")
    )
    outputs.rows | beam.Map(json.dumps) | beam.io.WriteToText(f"{local}.rows")
    pipeline.run().wait_until_finish()
    (row,) = _read_lines(f"{local}.rows")
    assert row["overlay_uri"] == overlay_uri(prefix, "toy-v1", "cam-1/g1")

    blob = (
        gcp.storage_client()
        .bucket(gcp_resources.frames_bucket)
        .blob(row["overlay_uri"].split(f"gs://{gcp_resources.frames_bucket}/", 1)[1])
    )
    with Image.open(io.BytesIO(blob.download_as_bytes())) as picture:
        assert picture.format == "PNG" and picture.width >= 512

    table = gcp_resources.table_id("explanations_table")
    client = gcp.bigquery_client()
    assert client.insert_rows_json(table, [row]) == []
    (stored,) = list(client.query(f"SELECT frame_key, top_regions, baselines FROM `{table}`").result())
    assert stored["frame_key"] == "cam-1/g1" and list(stored["baselines"]) == ["black", "white"]
    assert len(stored["top_regions"]) == len(row["top_regions"])
