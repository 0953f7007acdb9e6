"""Units of the feedback loop: the alert-wise held-out split, reading an export folder, the before/after
rates and table (no TF model needed: probabilities are given)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model.data.feedback_data import group_of, is_heldout, load_feedback, split_entries, training_pairs
from model.errors import FeedbackDataError
from model.evaluation.feedback_report import feedback_rates, format_comparison


def _entries(alerts: int, frames: int) -> list[dict]:
    return [
        {"path": f"no_fire/a{a}-{f}.png", "label": "no_fire", "frame_key": f"cam/a{a}/f{f}", "alert_id": f"alert-{a}"}
        for a in range(alerts)
        for f in range(frames)
    ]


def test_split_keeps_an_alerts_frames_together_and_is_stable() -> None:
    entries = _entries(200, 3)
    train, held = split_entries(entries, 0.25)
    assert len(train) + len(held) == len(entries)
    held_groups, train_groups = {group_of(e) for e in held}, {group_of(e) for e in train}
    assert not held_groups & train_groups  # no alert straddles the split
    assert all(len([e for e in held if group_of(e) == g]) == 3 for g in held_groups)
    assert 0.15 < len(held_groups) / 200 < 0.35  # ~25% of 200 alerts (binomial sd ~3%)
    # Stable: the same alert lands on the same side whatever else is in the export.
    train2, held2 = split_entries(entries[::-1][:90] + _entries(1, 1), 0.25)
    assert {group_of(e) for e in held2} - {"alert-0"} <= held_groups
    assert split_entries(entries, 0.0) == (entries, [])
    with pytest.raises(ValueError):
        is_heldout("x", 1.0)


def test_a_missed_fire_is_its_own_group() -> None:
    entry = {"path": "fire/x.png", "label": "fire", "frame_key": "cam/f9", "alert_id": None}
    assert group_of(entry) == "frame:cam/f9"
    assert group_of({**entry, "alert_id": "al-1"}) == "al-1"


def _export(root: Path, entries: list[dict]) -> Path:
    for e in entries:
        (root / e["path"]).parent.mkdir(parents=True, exist_ok=True)
        (root / e["path"]).write_bytes(e["frame_key"].encode())
    (root / "feedback_manifest.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    return root


def test_load_feedback_reads_bytes_and_records_the_split(tmp_path) -> None:
    entries = _entries(40, 2)
    split = load_feedback(str(_export(tmp_path, entries)), 0.25)
    assert len(split.train) + len(split.heldout) == 80 and split.heldout
    frame = split.train[0]
    assert frame.encoded == frame.frame_key.encode() and frame.label_index == 0
    summary = split.summary()
    assert summary["heldout"]["frames"] == len(split.heldout)
    assert set(summary["heldout"]["groups"]).isdisjoint(summary["train"]["groups"])
    assert training_pairs(split.train[:2]) == [(f.encoded, 0.0) for f in split.train[:2]]


def test_bad_exports_are_refused_with_the_reason(tmp_path) -> None:
    with pytest.raises(FeedbackDataError, match="from-feedback"):
        load_feedback(str(tmp_path))
    (tmp_path / "feedback_manifest.jsonl").write_text("")
    with pytest.raises(FeedbackDataError, match="no judged frames"):
        load_feedback(str(tmp_path))
    escape = {"path": "../secret.png", "label": "no_fire", "frame_key": "k", "alert_id": "a"}
    (tmp_path / "feedback_manifest.jsonl").write_text(json.dumps(escape) + "\n")
    with pytest.raises(FeedbackDataError, match="not <label>/<file>"):
        load_feedback(str(tmp_path), 0.0)
    missing = {**escape, "path": "no_fire/gone.png"}
    (tmp_path / "feedback_manifest.jsonl").write_text(json.dumps(missing) + "\n")
    with pytest.raises(FeedbackDataError, match="cannot read"):
        load_feedback(str(tmp_path), 0.0)


def test_rates_count_flags_at_the_models_threshold() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1])
    probs = np.array([0.9, 0.5, 0.49, 0.1, 0.8, 0.2])
    rates = feedback_rates(labels, probs, 0.5)
    assert (rates["false_alarms"], rates["no_fire_frames"], rates["false_alarm_rate"]) == (2, 4, 0.5)
    assert (rates["missed_fires"], rates["fire_frames"], rates["missed_fire_rate"]) == (1, 2, 0.5)
    empty = feedback_rates(np.array([0]), np.array([0.7]), 0.8)
    assert empty["false_alarm_rate"] == 0.0 and empty["missed_fire_rate"] is None


def test_table_shows_before_and_after() -> None:
    def side(version: str, fa: float, recall: float) -> dict:
        held = feedback_rates(np.array([0, 0, 1]), np.array([fa, fa, 0.9]), 0.5)
        base = {"count": 10, "accuracy": 0.9, "recall": recall, "precision": 1.0, "false_positive_rate": 0.0}
        return {"model_version": version, "threshold": 0.5, "heldout_feedback": held, "base_test": base}

    report = {"before": side("v1", 0.9, 1.0), "after": side("v2", 0.1, 0.95), "heldout": {"frames": 3, "groups": 1}}
    table = format_comparison(report).splitlines()
    assert table[0].split() == ["before", "after"]
    row = next(line for line in table if "false-alarm rate" in line)
    assert row.split()[-6:] == ["2/2", "=", "1.000", "0/2", "=", "0.000"]
    assert next(line for line in table if "recall" in line).split()[-2:] == ["1.0000", "0.9500"]
    assert "held-out feedback: 3 frames, 1 alerts" in "\n".join(table)


def test_fine_tune_refuses_bad_inputs_with_the_reason(tmp_path, capsys) -> None:
    from firewatch.cli.dispatch import main

    base = ["model", "fine-tune", "--model", str(tmp_path / "m1"), "--data", str(tmp_path / "records")]
    assert main([*base, "--feedback", str(tmp_path), "--output", f"{tmp_path}/x/../m1/"]) == 2
    assert "is the model being fine-tuned" in capsys.readouterr().err
    assert main([*base, "--feedback", str(tmp_path / "nothing"), "--output", str(tmp_path / "m2")]) == 2
    assert "not a feedback export" in capsys.readouterr().err
    assert main([*base, "--feedback", "gs://b/f", "--output", str(tmp_path / "m2")]) == 2
    assert "--feedback: must be a local folder, not a remote path (gs://b/f)" in capsys.readouterr().err
    held_only = _export(tmp_path / "held", [e for e in _entries(40, 1) if is_heldout(group_of(e), 0.25)])
    assert main([*base, "--feedback", str(held_only), "--output", str(tmp_path / "m2")]) == 2
    assert "nothing to train on" in capsys.readouterr().err


def test_feedback_frames_join_the_train_split_weight_times(tmp_path) -> None:
    from model.data.dataset import train_dataset
    from tests.fixtures.feedback_loop import frame_png, write_base_tfrecords

    data = write_base_tfrecords(tmp_path / "data", count=40, seed=1)
    _, n_base = train_dataset(str(data), 32, 8, 0, augment_images=False)
    lamps = [frame_png("sodium", np.random.default_rng(i)) for i in range(2)]
    ds, n = train_dataset(str(data), 32, 8, 0, augment_images=False, extra=[(b, 0.0) for b in lamps], extra_weight=3)
    assert n == n_base + 6
    images = np.concatenate([x.numpy() for x, _ in ds])
    assert len(images) == n
    # Each lamp frame is in the epoch 3 times, decoded and preprocessed like the base images.
    from firewatch.core.imaging import preprocess
    from model.data.dataset import decode

    for png in lamps:
        expected = preprocess(decode(png), 32).numpy()
        assert sum(np.allclose(im, expected, atol=1e-6) for im in images) == 3
