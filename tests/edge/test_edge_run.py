"""`firewatch edge run`: per-frame labels and the pipeline's k-of-n confirmation on a .tflite model.

Logic tests use a fixed-weight colour model (red -> fire, blue -> clear) so they hold on any
machine; one test runs the demo model's full-int8 TFLite on synthetic frames with a margin.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.litert import load_tflite
from edge.run import run_edge
from firewatch.cli import main
from firewatch.clients.publish import CameraSource
from firewatch.core.confirm import ConfirmConfig
from tests.edge.colour_model import write_colour_model, write_frames

RED, BLUE = (230, 20, 10), (10, 30, 220)


@pytest.fixture(scope="module")
def colour_models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("colour-model")
    return {v: write_colour_model(folder / f"colour-{v}.tflite", v) for v in ("float32", "full_int8")}


@pytest.mark.parametrize("variant", ["float32", "full_int8"])
def test_alert_opens_on_fire_sequence_and_none_on_clear(colour_models, tmp_path, variant):
    model = load_tflite(str(colour_models[variant]))
    fire = write_frames(tmp_path / "fire", RED, 8)
    clear = write_frames(tmp_path / "clear", BLUE, 8)
    report = run_edge(
        model, [CameraSource("cam-fire", [fire]), CameraSource("cam-clear", [clear])], confirm=ConfirmConfig()
    )
    by_camera = {c: [f for f in report.frames if f.camera_id == c] for c in ("cam-fire", "cam-clear")}
    assert all(f.label == "fire" and f.probability > 0.9 for f in by_camera["cam-fire"])
    assert all(f.label == "no_fire" and f.probability < 0.1 for f in by_camera["cam-clear"])
    opens = [e for e in report.events if e["event"] == "open"]
    assert [e["camera_id"] for e in opens] == ["cam-fire"]
    assert not [e for e in report.events if e["camera_id"] == "cam-clear"]
    assert opens[0]["model_version"] == f"colour-test-1+tflite-{variant}"


def test_alert_opens_at_the_kth_fire_frame_of_a_sequence(colour_models, tmp_path):
    frames = write_frames(tmp_path / "seq", BLUE, 4)
    write_frames(frames, RED, 4, start=4)  # frame-004..007 are fire
    model = load_tflite(str(colour_models["float32"]))
    report = run_edge(
        model,
        [CameraSource("cam-1", [frames])],
        confirm=ConfirmConfig(k=3, n=5),
        fps=2.0,
        start=datetime(2026, 1, 1, tzinfo=UTC),
    )
    opens = [e for e in report.events if e["event"] == "open"]
    assert len(opens) == 1
    assert opens[0]["first_frame_at"].startswith("2026-01-01T00:00:02")  # frame 4 at 2 fps
    assert opens[0]["fire_frames"] >= 3


def test_cli_prints_frames_and_events_and_skips_bad_frames(colour_models, tmp_path, capsys):
    fire = write_frames(tmp_path / "fire", RED, 5)
    (fire / "frame-002b.png").write_bytes(b"not an image")
    code = main(
        ["edge", "run", "--model", str(colour_models["full_int8"]), f"cam-9={fire}", "--json-output",
         "--confirm-k", "2", "--confirm-n", "3", "--confirm-reorder-seconds", "0"]
    )  # fmt: skip
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    frames = [x for x in lines if "frame" in x]
    events = [x for x in lines if "event" in x]
    assert [f["label"] for f in frames if not f["error"]] == ["fire"] * 5
    assert [f["frame"] for f in frames if f["error"]] == ["frame-002b.png"]
    assert "not a recognised image format" in next(f["error"] for f in frames if f["error"])
    assert [e["event"] for e in events][:1] == ["open"] and events[0]["camera_id"] == "cam-9"


def test_cli_rejects_a_file_that_is_not_a_tflite_model(tmp_path, capsys):
    bogus = tmp_path / "model.tflite"
    bogus.write_bytes(b"\0" * 64)
    frames = write_frames(tmp_path / "f", RED, 1)
    assert main(["edge", "run", "--model", str(bogus), str(frames)]) == 2
    assert "not a TFLite flatbuffer" in capsys.readouterr().err


def test_demo_model_full_int8_on_synthetic_frames(demo_tflite, tmp_path):
    from model.data.synth import encode, render_example

    fire, clear = tmp_path / "fire", tmp_path / "clear"
    fire.mkdir()
    clear.mkdir()
    for i in range(20):  # seed 99: frames the model was not trained on; even indices are fire
        label, pixels = render_example(99, i)
        (fire if label == "fire" else clear).joinpath(f"f-{i:03d}.jpg").write_bytes(encode(pixels))
    model = load_tflite(str(demo_tflite["dir"] / "firewatch-full_int8.tflite"))
    report = run_edge(model, [CameraSource("cam-fire", [fire]), CameraSource("cam-clear", [clear])],
                      confirm=ConfirmConfig())  # fmt: skip
    fire_labels = [f.label for f in report.frames if f.camera_id == "cam-fire"]
    clear_labels = [f.label for f in report.frames if f.camera_id == "cam-clear"]
    assert fire_labels.count("fire") >= 8  # of 10
    assert clear_labels.count("fire") <= 2  # of 10
    assert [e["camera_id"] for e in report.events if e["event"] == "open"] == ["cam-fire"]
