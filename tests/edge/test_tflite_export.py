"""TFLite export of the demo model: quality margins, size, metadata and the comparison table."""

from __future__ import annotations

import json

from edge.litert import load_tflite, read_metadata, sidecar_path
from edge.tflite_export import TABLE_JSON, TABLE_MD
from firewatch.cloud.models import read_metadata as read_model_metadata


def _rows(table: dict) -> dict:
    return {r["variant"]: r for r in table["rows"]}


def test_full_int8_keeps_accuracy_and_is_at_least_3x_smaller(demo_tflite):
    rows = _rows(demo_tflite["table"])
    saved, f32, int8 = rows["savedmodel"], rows["float32"], rows["full_int8"]
    assert demo_tflite["table"]["count"] >= 100  # the synthetic test split, not a handful of images
    assert int8["accuracy"] >= saved["accuracy"] - 0.01
    assert int8["recall"] >= saved["recall"] - 0.02
    assert int8["roc_auc"] >= saved["roc_auc"] - 0.01
    assert int8["size_bytes"] * 3 <= f32["size_bytes"]
    assert int8["size_bytes"] * 3 <= saved["size_bytes"]
    assert int8["decisions_differing_from_savedmodel"] <= 0.02 * demo_tflite["table"]["count"]
    # float32 is the same graph: probabilities agree to float rounding
    assert f32["max_abs_probability_difference"] < 1e-3
    assert f32["decisions_differing_from_savedmodel"] == 0
    for name in ("float16", "dynamic_int8"):
        assert rows[name]["accuracy"] >= saved["accuracy"] - 0.01
        assert rows[name]["size_bytes"] < f32["size_bytes"]


def test_every_variant_carries_the_savedmodel_metadata(demo_tflite, demo_model_dir):
    expected = read_model_metadata(str(demo_model_dir))
    for variant in ("float32", "float16", "dynamic_int8", "full_int8"):
        path = demo_tflite["dir"] / f"firewatch-{variant}.tflite"
        embedded = read_metadata(path.read_bytes())
        sidecar = json.loads(open(sidecar_path(str(path))).read())
        assert embedded == sidecar
        for key in ("model_version", "threshold", "image_size", "class_names", "data_description"):
            assert embedded[key] == getattr(expected, key)
        assert embedded["tflite_variant"] == variant
        model = load_tflite(str(path))
        assert model.threshold == expected.threshold and model.image_size == expected.image_size


def test_full_int8_has_integer_input_and_output(demo_tflite):
    model = load_tflite(str(demo_tflite["dir"] / "firewatch-full_int8.tflite"))
    assert model.interpreter.get_input_details()[0]["dtype"].__name__ == "int8"
    assert model.interpreter.get_output_details()[0]["dtype"].__name__ == "int8"


def test_comparison_table_files(demo_tflite):
    table = json.loads((demo_tflite["dir"] / TABLE_JSON).read_text())
    assert [r["variant"] for r in table["rows"]] == ["savedmodel", "float32", "float16", "dynamic_int8", "full_int8"]
    for r in table["rows"]:
        assert r["latency_ms_per_image"] > 0 and r["size_bytes"] > 0
    markdown = (demo_tflite["dir"] / TABLE_MD).read_text()
    assert "| full_int8 |" in markdown and table["model_version"] in markdown
