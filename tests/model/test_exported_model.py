"""The exported demo model: contract, signatures agree, fresh-process load, evaluation quality."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from firewatch.cloud.models import load_exported, read_metadata
from firewatch.core.imaging import decode_image, to_model_input
from model.data.synth import render_fire_frame, render_negative_frame


def _encode(pixels: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture(scope="module")
def exported(demo_model_dir: Path):
    return load_exported(str(demo_model_dir))


def test_metadata_contract(demo_model_dir: Path):
    raw = json.loads((demo_model_dir / "firewatch_model.json").read_text())
    for key in (
        "model_version",
        "class_names",
        "image_size",
        "threshold",
        "backbone",
        "data_description",
        "created_at",
    ):
        assert key in raw
    meta = read_metadata(str(demo_model_dir))
    assert meta.class_names == ["no_fire", "fire"] and meta.image_size == 128
    assert "synthetic" in meta.data_description
    assert meta.model_version.startswith("small_cnn-")
    assert 0 < meta.threshold < 1
    assert meta.threshold == pytest.approx(raw["metrics"]["valid"]["threshold"])  # chosen on valid


def test_both_signatures_give_the_same_probability(exported):
    rng = np.random.default_rng(123)
    frames = [render_fire_frame(rng, 192)[0], render_negative_frame(rng, 192), render_fire_frame(rng, 176)[0]]
    for fmt in ("PNG", "JPEG"):
        encoded = [_encode(f, fmt) for f in frames]
        from_bytes = exported.predict_bytes(encoded)
        size = exported.metadata.image_size
        images = np.stack([to_model_input(decode_image(b).pixels, size) for b in encoded])
        from_floats = exported.predict_images(images)
        np.testing.assert_allclose(from_bytes, from_floats, atol=1e-5)


def test_label_output_follows_threshold(exported):
    import tensorflow as tf

    rng = np.random.default_rng(5)
    images = np.stack(
        [to_model_input(render_fire_frame(rng, 160)[0], 128) for _ in range(3)]
        + [to_model_input(render_negative_frame(rng, 160), 128) for _ in range(3)]
    )
    out = exported.float_fn(images=tf.constant(images))
    probs = out["fire_probability"].numpy()
    labels = [x.decode() for x in out["label"].numpy()]
    assert labels == exported.labels_for(probs)
    assert labels == ["fire" if p >= exported.metadata.threshold else "no_fire" for p in probs]


def test_float_fn_supports_gradients(exported):
    import tensorflow as tf

    # a clear synthetic flame scores exactly 1.0 in float32 (a saturated sigmoid has a zero gradient), so
    # the frame is shown at half contrast, where the model is not certain
    frame = to_model_input(render_fire_frame(np.random.default_rng(1), 160)[0], 128)
    x = tf.constant((0.5 * frame + 0.25)[None])
    with tf.GradientTape() as tape:
        tape.watch(x)
        p = exported.float_fn(images=x)["fire_probability"]
    assert 0.0 < float(p[0]) < 1.0
    grad = tape.gradient(p, x)
    assert grad is not None and float(tf.reduce_sum(tf.abs(grad))) > 0


def test_loads_in_a_fresh_process_with_plain_tensorflow(demo_model_dir: Path, exported):
    image = _encode(render_fire_frame(np.random.default_rng(9), 192)[0], "PNG")
    script = (
        "import sys, tensorflow as tf\n"
        "m = tf.saved_model.load(sys.argv[1])\n"
        "out = m.signatures['serving_default'](image_bytes=tf.constant([open(sys.argv[2], 'rb').read()]))\n"
        "print('RESULT', float(out['fire_probability'][0]), out['label'][0].numpy().decode())\n"
        "print('SIGS', sorted(m.signatures.keys()))\n"
    )
    path = demo_model_dir.parent / "fresh-process-test.png"
    path.write_bytes(image)
    proc = subprocess.run(
        [sys.executable, "-c", script, str(demo_model_dir), str(path)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT"))
    prob, label = float(line.split()[1]), line.split()[2]
    assert "predict_images" in proc.stdout and "serving_default" in proc.stdout and "predict_paths" in proc.stdout
    # the same score as in this process, and the label that score gets (model quality is tested
    # with a margin on the test split below; a single frame's label depends on the machine)
    assert prob == pytest.approx(float(exported.predict_bytes([image])[0]), abs=1e-5)
    assert label == ("fire" if prob >= read_metadata(str(demo_model_dir)).threshold else "no_fire")


def test_evaluation_on_synthetic_test_split(demo_model_dir: Path, demo_tfrecords_dir: Path, tmp_path: Path):
    from firewatch.cli import main

    rc = main(
        ["evaluate", "--model", str(demo_model_dir), "--data", str(demo_tfrecords_dir), "--output", str(tmp_path)]
    )
    assert rc == 0
    report = json.loads((tmp_path / "evaluation.json").read_text())
    for key in ("accuracy", "precision", "recall", "f1", "roc_auc", "threshold", "confusion_matrix"):
        assert key in report
    # the test split mixes whole synthetic frames with regions of real photos (flames down to ~10 px; the
    # threshold is set for frames scored as regions): the synthetic frames carry the recall target
    synthetic = report["by_source"]["synth"]
    assert synthetic["recall"] >= 0.95 and synthetic["accuracy"] >= 0.95
    assert report["accuracy"] >= 0.9
    assert "synthetic" in report["data_description"]
    assert sum(map(sum, report["confusion_matrix"])) == report["count"] > 50
    for png in ("confusion_matrix.png", "top_losses.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
