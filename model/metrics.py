"""Pure numpy metrics for a binary fire classifier, and the recall-first threshold choice.

A missed fire is worse than a false alarm, so the decision threshold is chosen on the
validation split as the *highest* threshold that still reaches the target recall (this
maximises precision subject to the recall constraint), placed half-way to the next lower
score so that it is not sitting exactly on a training example. "fire" iff p >= threshold.
"""

from __future__ import annotations

import math

import numpy as np

DEFAULT_THRESHOLD = 0.5


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray) -> list[list[int]]:
    """[[TN, FP], [FN, TP]]: rows = true class (no_fire, fire), columns = predicted class."""
    labels, predicted = np.asarray(labels).astype(bool), np.asarray(predicted).astype(bool)
    return [
        [int(np.sum(~labels & ~predicted)), int(np.sum(~labels & predicted))],
        [int(np.sum(labels & ~predicted)), int(np.sum(labels & predicted))],
    ]


def roc_auc(labels: np.ndarray, probs: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney U with tie handling); None if one class is absent."""
    labels, probs = np.asarray(labels).astype(bool), np.asarray(probs, dtype=np.float64)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(probs, kind="mergesort")
    ranks = np.empty(len(probs), np.float64)
    sorted_p = probs[order]
    i = 0
    while i < len(sorted_p):  # average ranks of ties
        j = i
        while j + 1 < len(sorted_p) and sorted_p[j + 1] == sorted_p[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    u = ranks[labels].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def binary_metrics(labels: np.ndarray, probs: np.ndarray, threshold: float) -> dict:
    labels = np.asarray(labels).astype(bool)
    predicted = np.asarray(probs) >= threshold
    (tn, fp), (fn, tp) = confusion_matrix(labels, predicted)
    n = len(labels)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "count": n,
        "accuracy": (tp + tn) / n if n else 0.0,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "roc_auc": roc_auc(labels, probs),
        "threshold": float(threshold),
        "confusion_matrix": [[tn, fp], [fn, tp]],
        "false_positive_rate": fp / (fp + tn) if fp + tn else 0.0,
    }


def recall_at_precision(labels: np.ndarray, probs: np.ndarray, min_precision: float) -> float:
    """Highest recall over all thresholds whose precision is >= min_precision (0.0 if none reaches it).

    The tuning objective: how many fires a model finds when false alarms are held to a fixed share.
    """
    labels, probs = np.asarray(labels).astype(bool), np.asarray(probs, dtype=np.float64)
    n_pos = int(labels.sum())
    if n_pos == 0:
        return 0.0
    order = np.argsort(-probs, kind="mergesort")
    sorted_p, sorted_y = probs[order], labels[order]
    tp, fp = np.cumsum(sorted_y), np.cumsum(~sorted_y)
    last_of_tie = np.r_[sorted_p[1:] != sorted_p[:-1], True]  # thresholds only between distinct scores
    precision, recall = tp / (tp + fp), tp / n_pos
    ok = last_of_tie & (precision >= min_precision - 1e-12)
    return float(recall[ok].max()) if ok.any() else 0.0


def choose_threshold(labels: np.ndarray, probs: np.ndarray, target_recall: float) -> float:
    """Highest threshold with recall >= target_recall (midpoint to the next lower score)."""
    if not 0 < target_recall <= 1:
        raise ValueError(f"target_recall must be in (0, 1], got {target_recall}")
    labels, probs = np.asarray(labels).astype(bool), np.asarray(probs, dtype=np.float64)
    positives = np.sort(probs[labels])[::-1]
    if len(positives) == 0:
        return DEFAULT_THRESHOLD
    k = max(1, math.ceil(target_recall * len(positives) - 1e-9))
    kth = positives[k - 1]  # predicting fire for p >= kth keeps k positives: recall >= target
    below = probs[probs < kth]
    threshold = (kth + below.max()) / 2 if len(below) else kth
    return float(np.clip(threshold, 1e-6, 1.0))
