"""The tfx-bsl batch engine (`--inference-engine tfx-bsl`) against today's engine, with the controlled model.

Same TFRecords, both engines: the same rows (labels, keys, sources) and the same dead letters,
including a record that is not a tf.Example and a truncated PNG (its header passes, the in-graph
decode fails: its batch is retried frame by frame and only that frame is a dead letter).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from batch.config import BatchConfig
from batch.runner import run
from batch.tfx_engine import describe_failure
from batch.tfx_model import SIGNATURE, SOURCE_FILE, tf_example_model
from firewatch.beam.sources import request_from_record
from firewatch.core.records import make_example
from tests.fixtures.controlled_model import colour_frame, colour_png

FRAMES = 10  # per colour
SAME = ("image_width", "image_height", "model_version", "threshold", "mode", "frame_id")


def read_jsonl(folder: Path, name: str) -> list[dict]:
    rows = []
    for path in sorted(folder.glob(f"{name}-*.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


def colour_jpeg(rng: np.random.Generator, fire: bool, size: int = 80) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(colour_frame(rng, fire, size)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> dict:
    import tensorflow as tf

    rng = np.random.default_rng(11)
    root = tmp_path_factory.mktemp("tfx-records")
    path = root / "test-00000-of-00001.tfrecord"
    truth = {}
    with tf.io.TFRecordWriter(str(path)) as writer:
        for i in range(FRAMES):
            if i == FRAMES // 2:  # mid-file, so its batch holds good frames too (they must still be scored)
                truncated = colour_png(rng, True)[:300]  # a valid PNG header, then nothing
                writer.write(make_example(truncated, "png", "fire", "/data/cam-bad/truncated.png"))
            for fire in (True, False):
                label = "fire" if fire else "no_fire"
                data, fmt = (colour_png(rng, fire), "png") if i % 2 else (colour_jpeg(rng, fire), "jpeg")
                source = f"/data/cam-{label}/{label}-{i}.{fmt}"
                truth[source] = label
                writer.write(make_example(data, fmt, label, source))
        writer.write(b"garbage that is not a tf.Example")
    return {"path": path, "truth": truth}


@pytest.fixture(scope="module")
def both_engines(records, controlled_model_dir, tmp_path_factory) -> dict:
    out = {}
    for engine in ("firewatch", "tfx-bsl"):
        folder = tmp_path_factory.mktemp(f"out-{engine}")
        cfg = BatchConfig(
            model=str(controlled_model_dir),
            input=str(records["path"]),
            output=str(folder),
            explain=False,
            max_batch_size=8,
            inference_engine=engine,
        )
        summary = run(cfg)
        out[engine] = {
            "summary": summary,
            "predictions": read_jsonl(folder, "predictions"),
            "dead": read_jsonl(folder, "dead_letters"),
        }
    return out


def test_tfx_engine_gives_the_same_rows_as_todays_engine(both_engines, records):
    today, tfx = both_engines["firewatch"], both_engines["tfx-bsl"]
    assert len(tfx["predictions"]) == len(today["predictions"]) == 2 * FRAMES
    by_source = {p["source_uri"]: p for p in tfx["predictions"]}
    assert {s: p["label"] for s, p in by_source.items()} == records["truth"]
    for row in today["predictions"]:
        twin = by_source[row["source_uri"]]
        assert (twin["frame_key"], twin["camera_id"], twin["content_sha256"]) == (
            row["frame_key"],
            row["camera_id"],
            row["content_sha256"],
        )
        assert [twin[k] for k in SAME] == [row[k] for k in SAME]
        assert twin["fire_probability"] == pytest.approx(row["fire_probability"], abs=1e-4)
    assert (tfx["summary"].predictions, tfx["summary"].dead_letters) == (2 * FRAMES, 2)


def test_bad_record_and_corrupt_image_are_dead_letters_in_both_engines(both_engines):
    for engine, result in both_engines.items():
        dead = sorted(result["dead"], key=lambda d: d["stage"])
        assert [d["stage"] for d in dead] == ["decode", "read"], engine
        assert dead[0]["source_uri"] == "/data/cam-bad/truncated.png" and "PNG" in dead[0]["reason"], engine
        assert dead[1]["reason"].startswith("not a Firewatch TFRecord example"), engine
    decode = next(d for d in both_engines["tfx-bsl"]["dead"] if d["stage"] == "decode")
    assert decode["error_type"] == "InvalidArgumentError" and decode["reason"].startswith("in-graph: Invalid PNG")


def test_tf_example_model_matches_the_float_signature(controlled_model_dir, records):
    import tensorflow as tf

    from firewatch.cloud.models import load_exported
    from firewatch.core.imaging import decode_image, to_model_input

    path = tf_example_model(str(controlled_model_dir))
    assert json.loads((Path(path) / SOURCE_FILE).read_text())["model_version"]
    assert tf_example_model(str(controlled_model_dir)) == path  # cached: built once per export
    every = list(tf.data.TFRecordDataset(str(records["path"])).as_numpy_iterator())
    serialized = [r for r in every if r.startswith(b"\n") and b"/data/cam-bad/" not in r]  # the good frames
    assert len(serialized) == 2 * FRAMES
    exported = load_exported(str(controlled_model_dir))
    size = exported.metadata.image_size
    images = np.stack(
        [to_model_input(decode_image(request_from_record(s, None).image_bytes).pixels, size) for s in serialized]
    )
    expected = exported.predict_images(images)
    served = tf.saved_model.load(path).signatures[SIGNATURE](examples=tf.constant(serialized))["fire_probability"]
    np.testing.assert_allclose(served.numpy(), expected, atol=1e-5)
    assert expected.min() < 0.01 and expected.max() > 0.99  # red and blue frames: both sides of the threshold


def test_tfx_engine_needs_tfrecord_input(controlled_model_dir, tmp_path):
    with pytest.raises(ValidationError, match="tfx-bsl scores the ingest's tf.Example TFRecords only"):
        BatchConfig(model=str(controlled_model_dir), input=str(tmp_path), output="out", inference_engine="tfx-bsl")
    with pytest.raises(ValidationError):
        BatchConfig(model="m", input="x.tfrecord", output="out", inference_engine="tfx")


def test_tfx_engine_refuses_a_run_that_would_apply_exclusion_masks():
    """Masks are applied to the decoded pixels; tfx-bsl decodes inside the graph, so a run that reads
    masks (BigQuery output) must choose: the firewatch engine, or no masks."""
    with pytest.raises(ValidationError, match="cannot apply the cameras' exclusion masks"):
        BatchConfig(model="m", input="x.tfrecord", output="bq", project="p", inference_engine="tfx-bsl")
    unmasked = BatchConfig(
        model="m", input="x.tfrecord", output="bq", project="p", inference_engine="tfx-bsl", masks_table=""
    )
    assert unmasked.mask_source() is None


def test_request_from_record_rejects_incomplete_records():
    import tensorflow as tf

    example = tf.train.Example()
    example.features.feature["image/encoded"].bytes_list.value.append(b"x")
    with pytest.raises(ValueError, match="'label' is missing"):
        request_from_record(example.SerializeToString(), None)
    request = request_from_record(make_example(b"img", "png", "fire", "/d/cam-1/a.png", "abc"), None)
    fields = (request.camera_id, request.frame_id, request.uri, request.image_bytes)
    assert fields == ("cam-1", "abc", "/d/cam-1/a.png", b"img")


def test_describe_failure_keeps_tf_s_meaningful_line():
    text = "Graph execution error:\n\nInvalid PNG data, size 300\n\t [[{{node map/while/DecodeImage}}]]"
    assert describe_failure((ValueError, text, [])) == ("ValueError", "Invalid PNG data, size 300")
    trace = ["Traceback ...\n", f"builtins.ValueError: {text}\n"]
    assert describe_failure((ValueError, "InvalidArgumentError()", trace))[1] == "Invalid PNG data, size 300"
    assert describe_failure(RuntimeError("boom")) == ("RuntimeError", "boom")


def test_tfx_engine_explains_the_fire_frames(tmp_path, controlled_model_dir):
    import tensorflow as tf

    rng = np.random.default_rng(5)
    path = tmp_path / "frames.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for i, fire in enumerate((True, False, True, False)):
            label = "fire" if fire else "no_fire"
            writer.write(make_example(colour_png(rng, fire), "png", label, f"/data/cam-a/{i}.png"))
    out = tmp_path / "out"
    cfg = BatchConfig(model=str(controlled_model_dir), input=str(path), output=str(out), inference_engine="tfx-bsl")
    summary = run(cfg)
    predictions, explanations = read_jsonl(out, "predictions"), read_jsonl(out, "explanations")
    fire_keys = {p["frame_key"] for p in predictions if p["label"] == "fire"}
    assert len(fire_keys) == 2 and {e["frame_key"] for e in explanations} == fire_keys
    assert summary.explanations == 2 and summary.dead_letters == 0
    for row in explanations:
        with Image.open(row["overlay_uri"]) as overlay:
            assert overlay.width >= 64


def test_a_stale_tf_example_model_is_rebuilt(controlled_model_dir):
    path = Path(tf_example_model(str(controlled_model_dir)))
    source = path / SOURCE_FILE
    current = source.read_text()
    source.write_text(json.dumps({"model_version": "an earlier export", "saved_model_sha256": "0" * 64}))
    assert tf_example_model(str(controlled_model_dir)) == str(path)
    assert source.read_text() == current and (path / "saved_model.pb").is_file()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".staging-")]  # no build left behind
