"""The feedback loop end to end on the local stack: a frame the model flags, marked "false alarm" in the
console, comes out of `firewatch data from-feedback`, and a model fine-tuned with it no longer flags it.

The base model (small_cnn, 32 px, trained for seconds on `tests.fixtures.feedback_loop`'s synthetic
set) flags anything warm, so it flags a sodium-lamp stripe pattern; the test checks that precondition
with a margin before relying on it. Verdicts go through the console's real POST route (CSRF form),
the export and the fine-tune through the `firewatch` CLI.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import numpy as np
import pytest

from firewatch.cli.dispatch import main
from firewatch.cloud.models import load_exported
from firewatch.console.app import create_app
from firewatch.console.store import ConsoleStore
from model.data.feedback_data import SPLIT_FILE, is_heldout
from model.evaluation.feedback_report import REPORT_FILE
from tests.fixtures.console_seed import console_config
from tests.fixtures.feedback_loop import frame_png, seed_episode, train_base_model, write_base_tfrecords

MARGIN = 0.2  # the base model's scores must clear its threshold by this much for the premise to hold
# Alert ids chosen so that the alert-wise split (sha256, 25% held out) is known: checked below.
TARGET = "cam-lamp-b-episode-1"  # trained on: holds the frame the test follows
TRAINED = {TARGET: "sodium", "cam-lamp-c-episode-1": "sodium", "cam-ridge-a-episode-1": "fire"}
HELD_OUT = {"cam-lamp-a-episode-1": "sodium", "cam-ridge-c-episode-1": "fire"}
FRAMES_PER_ALERT = 4


@pytest.fixture(scope="module")
def base_model(tmp_path_factory):
    """(base TFRecords, base MODEL_DIR): a small CNN that flags anything warm."""
    root = tmp_path_factory.mktemp("feedback-loop")
    data = write_base_tfrecords(root / "base-data", count=400, seed=0)
    return data, train_base_model(data, root / "model-v1", seed=0)


def _judge(client, alert_id: str, verdict: str) -> None:
    html = client.get(f"/alerts/{alert_id}").text
    form = {
        "csrf": re.search(r'name="csrf" value="([^"]+)"', html).group(1),
        "feedback_id": re.search(r'name="feedback_id" value="([^"]+)"', html).group(1),
        "verdict": verdict,
    }
    if verdict == "false_alarm":
        form.update(category="lights", note="sodium street lamps, not a fire")
    response = client.post(f"/alerts/{alert_id}/verdict", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text


@pytest.mark.stack
def test_a_false_alarm_marked_in_the_console_is_no_longer_flagged_after_fine_tuning(
    gcp_resources, base_model, tmp_path, capsys
) -> None:
    from fastapi.testclient import TestClient

    names = gcp_resources
    assert not any(is_heldout(a, 0.25) for a in TRAINED) and all(is_heldout(a, 0.25) for a in HELD_OUT)
    data, base_dir = base_model
    base = load_exported(str(base_dir))
    threshold = base.metadata.threshold

    rng = np.random.default_rng(42)
    frames = {a: [frame_png(kind, rng) for _ in range(FRAMES_PER_ALERT)] for a, kind in {**TRAINED, **HELD_OUT}.items()}
    before = {a: base.predict_bytes(pngs) for a, pngs in frames.items()}
    for alert_id, probs in before.items():  # premise: the base model flags every frame, with a margin
        assert probs.min() >= min(threshold + MARGIN, 0.99), (alert_id, probs, threshold)

    started = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=10)
    keys = {}
    for i, (alert_id, pngs) in enumerate(frames.items()):
        camera = alert_id.removesuffix("-episode-1")
        keys[alert_id] = seed_episode(names, alert_id, camera, pngs, base, started + dt.timedelta(seconds=30 * i))
    target_key = keys[TARGET][0]

    config = console_config(names, live=False)
    with TestClient(
        create_app(config, ConsoleStore(config, names.project)), base_url="http://127.0.0.1:8080"
    ) as client:
        for alert_id, kind in {**TRAINED, **HELD_OUT}.items():
            _judge(client, alert_id, "false_alarm" if kind == "sodium" else "fire_confirmed")

    feedback = tmp_path / "feedback"
    assert main(["data", "from-feedback", "--output", str(feedback), "--dataset", names.dataset,
                 "--allowed-buckets", names.frames_bucket]) == 0  # fmt: skip
    assert "exported 20 frames (fire=8, no_fire=12); skipped 0" in capsys.readouterr().out
    manifest = {
        e["frame_key"]: e for e in map(json.loads, (feedback / "feedback_manifest.jsonl").read_text().splitlines())
    }
    entry = manifest[target_key]
    assert (entry["label"], entry["verdict"], entry["category"], entry["alert_id"], entry["model_version"]) == (
        "no_fire", "false_alarm", "lights", TARGET, base.metadata.model_version)  # fmt: skip
    target_png = (feedback / entry["path"]).read_bytes()
    assert target_png == frames[TARGET][0]

    new_dir = tmp_path / "model-v2"
    argv = ["model", "fine-tune", "--model", str(base_dir), "--data", str(data), "--feedback", str(feedback),
            "--output", str(new_dir), "--epochs", "4", "--feedback-weight", "8", "--verbose", "0"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "false-alarm rate" in printed and "missed-fire rate" in printed and "base test split" in printed

    new = load_exported(str(new_dir))
    assert new.metadata.model_version != base.metadata.model_version
    assert new.metadata.metrics["fine_tuned_from"] == base.metadata.model_version
    p_target = float(new.predict_bytes([target_png])[0])
    assert p_target < new.metadata.threshold, (p_target, new.metadata.threshold)  # the false alarm is gone
    # ... while fire stays fire: the feedback's fire frames and the base test split's fires are still flagged.
    assert (new.predict_bytes(frames["cam-ridge-a-episode-1"]) >= new.metadata.threshold).all()
    report = json.loads((new_dir / REPORT_FILE).read_text())
    assert report["after"]["base_test"]["recall"] >= 0.95, report["after"]["base_test"]
    held = report["before"]["heldout_feedback"]
    assert (held["no_fire_frames"], held["fire_frames"], held["false_alarm_rate"], held["missed_fire_rate"]) == (
        FRAMES_PER_ALERT, FRAMES_PER_ALERT, 1.0, 0.0)  # fmt: skip
    after = report["after"]["heldout_feedback"]
    assert after["frames"] == 2 * FRAMES_PER_ALERT and after["false_alarm_rate"] < 1.0  # it generalises a little
    split = json.loads((new_dir / SPLIT_FILE).read_text())
    assert split["train"]["groups"] == sorted(TRAINED) and split["heldout"]["groups"] == sorted(HELD_OUT)
    assert target_key in split["train"]["frame_keys"]


def test_train_accepts_feedback_next_to_the_base_set_and_the_report_compares(base_model, tmp_path, capsys) -> None:
    """`firewatch train --feedback DIR` (from scratch, the export's layout read as is) and
    `firewatch model feedback-report` (old vs new on the held-out frames and the base test split)."""
    data, base_dir = base_model
    base = load_exported(str(base_dir))
    rng = np.random.default_rng(7)
    feedback = tmp_path / "feedback"
    lines = []
    for alert_id, kind in {**TRAINED, **HELD_OUT}.items():
        label, verdict = ("no_fire", "false_alarm") if kind == "sodium" else ("fire", "fire_confirmed")
        for i in range(FRAMES_PER_ALERT):
            path = f"{label}/{alert_id}-f{i}.png"
            (feedback / label).mkdir(parents=True, exist_ok=True)
            (feedback / path).write_bytes(frame_png(kind, rng))
            lines.append({"path": path, "label": label, "frame_key": f"{alert_id}/f{i}", "alert_id": alert_id,
                          "verdict": verdict, "model_version": base.metadata.model_version})  # fmt: skip
    (feedback / "feedback_manifest.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))

    new_dir = tmp_path / "model-fb"
    argv = ["train", "--data", str(data), "--output", str(new_dir), "--image-size", "32", "--epochs", "4",
            "--feedback", str(feedback), "--feedback-weight", "8", "--verbose", "0"]  # fmt: skip
    assert main(argv) == 0
    new = load_exported(str(new_dir))
    assert new.metadata.metrics["feedback"]["train_frames"] == len(TRAINED) * FRAMES_PER_ALERT
    assert new.metadata.metrics["feedback"]["heldout_frames"] == len(HELD_OUT) * FRAMES_PER_ALERT
    split = json.loads((new_dir / SPLIT_FILE).read_text())
    assert split["heldout"]["groups"] == sorted(HELD_OUT)

    out = tmp_path / "report"
    argv = ["model", "feedback-report", "--before", str(base_dir), "--after", str(new_dir), "--data", str(data),
            "--feedback", str(feedback), "--output", str(out)]  # fmt: skip
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "held-out feedback: 8 frames, 2 alerts" in table and base.metadata.model_version in table
    report = json.loads((out / REPORT_FILE).read_text())
    before, after = report["before"], report["after"]
    assert (before["model_version"], after["model_version"]) == (
        base.metadata.model_version,
        new.metadata.model_version,
    )
    for side, model in ((before, base), (after, new)):  # the report's scores are the exported graphs' scores
        keys = sorted(side["heldout_feedback"]["per_frame"])
        pngs = [(feedback / next(line["path"] for line in lines if line["frame_key"] == k)).read_bytes() for k in keys]
        np.testing.assert_allclose([side["heldout_feedback"]["per_frame"][k] for k in keys], model.predict_bytes(pngs),
                                   atol=1e-6)  # fmt: skip
        assert side["base_test"]["count"] == before["base_test"]["count"] > 0
    assert before["heldout_feedback"]["false_alarm_rate"] == 1.0  # the premise: the base model flags the lamps
