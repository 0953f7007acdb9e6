"""Evaluation job: metrics of an exported model on a TFRecord split (default: test).

Runs the exported model's `predict_images` signature (the same graph that serves) and
writes `evaluation.json` (top-level accuracy, precision, recall, f1, roc_auc, threshold,
confusion_matrix, plus the data description and the threshold chosen on this split for
the target recall, for comparison), `confusion_matrix.png` and `top_losses.png`. The same metrics per
source of the examples (`by_source`: whole synthetic frames, regions of real photos, crops of
real photos) are reported too. With
`negatives` (a folder of real photos without fire) it also tiles and scores them
(`model.evaluation.negatives`) and reports the false-alarm rate under `real_negatives`, with the worst
images in `false_alarms.png`.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

from model.config import EvaluateConfig
from model.metrics import binary_metrics, choose_threshold

EVALUATION_FILE = "evaluation.json"
FALSE_ALARMS_SHEET = "false_alarms.png"


def binary_cross_entropy(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    p = np.clip(probs.astype(np.float64), 1e-7, 1 - 1e-7)
    return -(labels * np.log(p) + (1 - labels) * np.log(1 - p))


def plot_confusion_matrix(matrix: list[list[int]], class_names: list[str], path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 3.8), dpi=100)
    m = np.asarray(matrix)
    ax.imshow(m, cmap="Oranges")
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, str(v), ha="center", va="center", color="black", fontsize=14)
    ax.set_xticks([0, 1], class_names)
    ax.set_yticks([0, 1], class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_top_losses(
    images: np.ndarray,
    labels: np.ndarray,
    probs: np.ndarray,
    losses: np.ndarray,
    paths: list[str],
    path: str,
    count: int,
) -> list[dict]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = np.argsort(-losses)[:count]
    cols = 4
    rows = max(1, int(np.ceil(len(order) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 2.6, rows * 2.9), dpi=90, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    listed = []
    for ax, i in zip(axes.ravel(), order, strict=False):
        ax.imshow(np.clip(images[i], 0, 1))
        truth = "fire" if labels[i] else "no_fire"
        ax.set_title(f"true {truth}  p={probs[i]:.2f}\nloss {losses[i]:.2f}", fontsize=8)
        listed.append(
            {"source_path": paths[i], "label": truth, "fire_probability": float(probs[i]), "loss": float(losses[i])}
        )
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return listed


def evaluate_negatives(exported, config: EvaluateConfig, threshold: float) -> dict:
    """False alarms on a folder of real non-fire photos (`model.evaluation.negatives`) + the worst-images sheet."""
    from model.evaluation.alert_rate import clear_camera_alerts
    from model.evaluation.negatives import false_alarm_report, plot_worst_sheet, score_negatives

    started = time.perf_counter()
    scored = score_negatives(exported, config.negatives, max_side=config.negatives_max_side)
    seconds = time.perf_counter() - started
    report = false_alarm_report(scored, threshold)
    sheet = os.path.join(config.output, FALSE_ALARMS_SHEET)
    plot_worst_sheet(config.negatives, scored, threshold, sheet, max_side=config.negatives_max_side)
    report.update(
        {
            "folder": config.negatives,
            "max_side": config.negatives_max_side,
            "tiles_per_second": len(scored) / max(seconds, 1e-6),
            "sheet": FALSE_ALARMS_SHEET,
            "clear_camera": clear_camera_alerts([s.probability for s in scored], threshold),
            "note": "real photographs without fire; every tile at or above the threshold is a false alarm",
        }
    )
    return report


# file-name prefixes of the demo data's sources (model.data.synth, model.data.regions_data, model.data.real_negatives)
SOURCES = {
    "synth": "whole synthetic frames (model.data.synth)",
    "region": "regions of real photographs, with a pasted procedural flame or without (model.data.regions_data)",
    "real": "crops of real photographs without fire (model.data.real_negatives)",
}


def metrics_by_source(labels: np.ndarray, probs: np.ndarray, paths: list[str], threshold: float) -> dict:
    """Metrics per source of the examples (the file name's prefix before the first '-'; see SOURCES).

    The demo set mixes whole synthetic frames with regions of real photos cut as serving cuts them,
    some with flames only ~10 px tall: "the synthetic test split" is the `synth` part."""
    groups: dict[str, list[int]] = {}
    for i, path in enumerate(paths):
        groups.setdefault(os.path.basename(path).split("-")[0], []).append(i)
    out = {}
    for source, indices in sorted(groups.items()):
        metrics = binary_metrics(labels[indices], probs[indices], threshold)
        out[source] = {k: metrics[k] for k in ("count", "accuracy", "precision", "recall", "false_positive_rate")}
        out[source]["description"] = SOURCES.get(source, "other")
    return out


def evaluate(config: EvaluateConfig) -> dict:
    from firewatch.cloud.models import load_exported
    from model.data.dataset import eval_dataset, local_data_dir

    exported = load_exported(config.model)
    meta = exported.metadata
    data_dir = local_data_dir(config.data)
    images, labels, probs, paths = [], [], [], []
    started = time.perf_counter()
    for batch in eval_dataset(data_dir, config.split, meta.image_size, config.batch_size, with_meta=True):
        x = batch["images"].numpy()
        probs.append(exported.predict_images(x))
        labels.append(batch["labels"].numpy())
        paths.extend(p.decode() for p in batch["source_path"].numpy())
        images.append(x)  # kept for the top-losses grid (fine for evaluation-sized splits)
    seconds = time.perf_counter() - started
    y, p = np.concatenate(labels).astype(np.int64), np.concatenate(probs)
    all_images = np.concatenate(images)
    threshold = meta.threshold if config.threshold is None else config.threshold
    report = binary_metrics(y, p, threshold)
    report.update(
        {
            "split": config.split,
            "threshold_source": "model (chosen on valid at export)" if config.threshold is None else "--threshold",
            "threshold_for_target_recall_on_this_split": choose_threshold(y, p, config.target_recall),
            "target_recall": config.target_recall,
            "model_dir": config.model,
            "model_version": meta.model_version,
            "backbone": meta.backbone,
            "image_size": meta.image_size,
            "data": config.data,
            "data_description": meta.data_description,
            "per_class_count": {"no_fire": int((y == 0).sum()), "fire": int((y == 1).sum())},
            "by_source": metrics_by_source(y, p, paths, threshold),
            "images_per_second": len(y) / max(seconds, 1e-6),
        }
    )
    os.makedirs(config.output, exist_ok=True)
    cm_path = os.path.join(config.output, "confusion_matrix.png")
    plot_confusion_matrix(
        report["confusion_matrix"],
        meta.class_names,
        cm_path,
        f"{meta.model_version}\n{config.split} split, threshold {threshold:.3f}",
    )
    if config.top_losses:
        tl_path = os.path.join(config.output, "top_losses.png")
        report["top_losses"] = plot_top_losses(
            all_images, y, p, binary_cross_entropy(y, p), paths, tl_path, config.top_losses
        )
    if config.negatives:
        report["real_negatives"] = evaluate_negatives(exported, config, threshold)
    with open(os.path.join(config.output, EVALUATION_FILE), "w") as f:
        json.dump(report, f, indent=2)
    return report


def format_report(report: dict) -> str:
    auc = report["roc_auc"]
    return (
        f"evaluation on {report['split']} ({report['count']} images; {report['data_description']}):\n"
        f"  accuracy {report['accuracy']:.4f}  precision {report['precision']:.4f}  "
        f"recall {report['recall']:.4f}  f1 {report['f1']:.4f}  roc_auc "
        f"{'n/a' if auc is None else f'{auc:.4f}'}\n"
        f"  threshold {report['threshold']:.4f}  confusion [[TN, FP], [FN, TP]] = {report['confusion_matrix']}"
        + "".join(
            f"\n  {source} ({m['count']}): precision {m['precision']:.4f}  recall {m['recall']:.4f}  "
            f"false positive rate {m['false_positive_rate']:.4f}"
            for source, m in report.get("by_source", {}).items()
        )
    ) + (format_negatives(report["real_negatives"]) if "real_negatives" in report else "")


def format_negatives(neg: dict) -> str:
    sides = "  ".join(f"{k}: {v['false_alarms']}/{v['tiles']}" for k, v in neg["per_tile_side"].items())
    worst = ", ".join(f"{w['image']} {w['false_alarms']}/{w['tiles']}" for w in neg["worst_images"][:3])
    return (
        f"\nreal negatives ({neg['images']} photos, {neg['tiles']} tiles, {neg['folder']}):\n"
        f"  false alarms {neg['false_alarms']} = {neg['per_1000_tiles']:.1f} per 1,000 tiles ({sides})\n"
        f"  worst: {worst}\n"
        f"  clear camera at 1 fps (each frame a random tile, confirmation 3 of 5): "
        f"{neg['clear_camera']['alerts_per_hour']:.2f} alerts per hour"
    )
