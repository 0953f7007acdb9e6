"""Batch mode on the emulators: a gs:// glob in, BigQuery tables out (through the CLI), then
a `bq:` query source that re-scores the URIs the first run wrote. The controlled model scores
the frames (red = fire, blue = clear on any machine), so the counts test the pipeline."""

import numpy as np
import pytest

from firewatch.cli import main
from firewatch.cloud.clients import bigquery_client, storage_client
from tests.fixtures.controlled_model import colour_png

pytestmark = pytest.mark.stack


def rows(sql):
    return [dict(r) for r in bigquery_client().query(sql).result()]


def test_gcs_glob_to_bigquery_then_query_source(gcp_resources, controlled_model_dir, capsys):
    names = gcp_resources
    bucket = storage_client(names.project).bucket(names.frames_bucket)
    rng = np.random.default_rng(21)
    for i in range(3):
        bucket.blob(f"batch/cam-a/fire-{i}.png").upload_from_string(colour_png(rng, fire=True))
        bucket.blob(f"batch/cam-a/clear-{i}.png").upload_from_string(colour_png(rng, fire=False))
    bucket.blob("batch/cam-a/broken.png").upload_from_string(b"\x89PNG\r\n\x1a\n broken")
    common = [
        "--model",
        str(controlled_model_dir),
        "--output",
        "bigquery",
        "--project",
        names.project,
        "--dataset",
        names.dataset,
        "--allowed-buckets",
        names.frames_bucket,
        "--explanations-output",
        f"gs://{names.frames_bucket}/explanations",
    ]
    assert main(["batch", "--input", f"gs://{names.frames_bucket}/batch/cam-a/*.png", *common]) == 0
    out = capsys.readouterr().out
    assert "7 inputs -> 6 predictions" in out and "1 dead letters" in out

    ds = f"{names.project}.{names.dataset}"
    predictions = rows(f"SELECT camera_id, label, source_uri, mode FROM `{ds}.predictions`")
    assert len(predictions) == 6 and {p["camera_id"] for p in predictions} == {"cam-a"}
    assert sorted(p["label"] for p in predictions) == ["fire"] * 3 + ["no_fire"] * 3
    assert all(p["mode"] == "batch" and p["source_uri"].startswith("gs://") for p in predictions)
    dead = rows(f"SELECT stage, source_uri FROM `{ds}.dead_letters`")
    assert [(d["stage"], d["source_uri"].rsplit("/", 1)[1]) for d in dead] == [("decode", "broken.png")]
    assert len(rows(f"SELECT frame_key FROM `{ds}.explanations`")) == 3

    query = f"bq:SELECT source_uri AS uri, 'cam-b' AS camera_id FROM `{ds}.predictions` WHERE label = 'fire'"
    assert main(["batch", "--input", query, "--no-explain", *common]) == 0
    again = rows(f"SELECT label FROM `{ds}.predictions` WHERE camera_id = 'cam-b'")
    assert [r["label"] for r in again] == ["fire"] * 3
