"""Before/after report of a model retrained with operators' feedback.

Both exported models (old and new, each at its own threshold) score:
* the held-out feedback frames (`model.data.feedback_data`: alerts no training run saw): the
  false-alarm rate = share of `no_fire` feedback frames the model flags, and the missed-fire
  rate = share of `fire` feedback frames it does not flag;
* the base set's test split: the usual metrics (`model.metrics.binary_metrics`), so a
  regression on the data the model was built for shows next to the gain on feedback.
Scoring goes through the exported graphs (`predict_bytes` for the feedback frames: the
serving decode; `predict_images` on the evaluation pipeline for the test split).
The report is JSON (`feedback_evaluation.json` in the new model's folder) and a small table.
"""

from __future__ import annotations

import os

import numpy as np

from firewatch.cloud.storage import is_remote
from model.metrics import binary_metrics

REPORT_FILE = "feedback_evaluation.json"


def feedback_rates(labels: np.ndarray, probs: np.ndarray, threshold: float) -> dict:
    """False-alarm and missed-fire rates of judged frames at `threshold` (None where no such frames)."""
    labels = np.asarray(labels).astype(bool)
    flagged = np.asarray(probs, dtype=np.float64) >= threshold
    negatives, positives = int((~labels).sum()), int(labels.sum())
    false_alarms, missed = int((~labels & flagged).sum()), int((labels & ~flagged).sum())
    return {
        "frames": len(labels),
        "threshold": float(threshold),
        "no_fire_frames": negatives,
        "false_alarms": false_alarms,
        "false_alarm_rate": false_alarms / negatives if negatives else None,
        "fire_frames": positives,
        "missed_fires": missed,
        "missed_fire_rate": missed / positives if positives else None,
    }


def _test_scores(exported, data_dir: str, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    from model.data.dataset import eval_dataset

    labels, probs = [], []
    for images, y in eval_dataset(data_dir, "test", exported.metadata.image_size, batch_size):
        probs.append(exported.predict_images(images.numpy(), batch_size))
        labels.append(y.numpy())
    return np.concatenate(labels).astype(np.int64), np.concatenate(probs)


def model_side(exported, heldout, data_dir: str, batch_size: int) -> dict:
    """One model's figures: held-out feedback rates and base test metrics, at the model's threshold."""
    meta = exported.metadata
    side: dict = {"model_version": meta.model_version, "threshold": meta.threshold}
    labels = np.array([f.label_index for f in heldout], np.int64)
    probs = exported.predict_bytes([f.encoded for f in heldout], batch_size) if heldout else np.zeros([0])
    side["heldout_feedback"] = feedback_rates(labels, probs, meta.threshold)
    side["heldout_feedback"]["per_frame"] = {f.frame_key: float(p) for f, p in zip(heldout, probs, strict=True)}
    y, p = _test_scores(exported, data_dir, batch_size)
    side["base_test"] = binary_metrics(y, p, meta.threshold)
    return side


def compare(before, after, split, data_dir: str, batch_size: int = 64) -> dict:
    """The before/after report (`split`: a `model.data.feedback_data.FeedbackSplit`)."""
    return {
        "before": model_side(before, split.heldout, data_dir, batch_size),
        "after": model_side(after, split.heldout, data_dir, batch_size),
        "heldout": {
            "frames": len(split.heldout),
            "groups": len({f.group for f in split.heldout}),
            "holdout": split.holdout,
        },
        "trained_on_feedback_frames": len(split.train),
        "data": data_dir,
        "feedback": split.root,
    }


def report_from_config(config) -> dict:
    """`firewatch model feedback-report`: load both models and the feedback split, compare, write the JSON."""
    from firewatch.cloud.models import load_exported
    from model.data.dataset import local_data_dir
    from model.data.feedback_data import load_feedback
    from model.export.files import write_json_files

    split = load_feedback(config.feedback, config.feedback_holdout)
    before, after = load_exported(config.before), load_exported(config.after)
    report = compare(before, after, split, local_data_dir(config.data), config.batch_size)
    output = config.output or config.after
    if not is_remote(output):
        os.makedirs(output, exist_ok=True)
    write_json_files(output, {REPORT_FILE: report})
    return report


def _rate(value: float | None, count: int, total: int) -> str:
    return "n/a (none)" if value is None else f"{count}/{total} = {value:.3f}"


def format_comparison(report: dict) -> str:
    """A small before/after table for the terminal."""
    b, a = report["before"], report["after"]
    rows = [("model", b["model_version"], a["model_version"]), ("threshold", f"{b['threshold']:.4f}",
            f"{a['threshold']:.4f}")]  # fmt: skip
    held = report["heldout"]
    rows.append((f"held-out feedback: {held['frames']} frames, {held['groups']} alerts", "", ""))
    for name, key, count, total in (
        ("  false-alarm rate", "false_alarm_rate", "false_alarms", "no_fire_frames"),
        ("  missed-fire rate", "missed_fire_rate", "missed_fires", "fire_frames"),
    ):
        rows.append((name, *(_rate(s["heldout_feedback"][key], s["heldout_feedback"][count],
                                   s["heldout_feedback"][total]) for s in (b, a))))  # fmt: skip
    rows.append((f"base test split: {b['base_test']['count']} images", "", ""))
    for key in ("accuracy", "recall", "precision", "false_positive_rate"):
        rows.append((f"  {key.replace('_', ' ')}", f"{b['base_test'][key]:.4f}", f"{a['base_test'][key]:.4f}"))
    width = max(len(r[0]) for r in rows) + 2
    cols = [max(len(r[i]) for r in rows) + 2 for i in (1, 2)]
    lines = [f"{'':<{width}}{'before':<{cols[0]}}{'after':<{cols[1]}}"]
    lines += [f"{r[0]:<{width}}{r[1]:<{cols[0]}}{r[2]:<{cols[1]}}" for r in rows]
    return "\n".join(line.rstrip() for line in lines)
