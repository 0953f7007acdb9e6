"""Record contract, deterministic split and the recall-first threshold logic."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from firewatch.core.records import image_id, make_example, parse_example, split_for_id
from model.metrics import binary_metrics, choose_threshold, confusion_matrix, roc_auc


def test_split_follows_contract_and_is_deterministic():
    ids = [image_id(f"image-{i}".encode()) for i in range(3000)]
    splits = [split_for_id(i) for i in ids]
    assert splits == [split_for_id(i) for i in ids]
    for id_, split in zip(ids[:200], splits[:200], strict=True):
        bucket = int(hashlib.sha256(id_.encode()).hexdigest(), 16) % 100
        assert split == ("train" if bucket < 80 else "valid" if bucket < 90 else "test")
    fractions = {s: splits.count(s) / len(splits) for s in ("train", "valid", "test")}
    assert 0.76 < fractions["train"] < 0.84 and 0.07 < fractions["valid"] < 0.13


def test_example_round_trip():
    data = b"\x89PNG fake bytes"
    parsed = parse_example(make_example(data, "PNG", "fire", "/x/fire/a.png"))
    assert parsed["image/encoded"].numpy() == data
    assert parsed["image/format"].numpy() == b"png"
    assert parsed["label"].numpy() == b"fire" and int(parsed["label_index"]) == 1
    assert parsed["id"].numpy().decode() == hashlib.sha256(data).hexdigest()
    assert parsed["source_path"].numpy() == b"/x/fire/a.png"
    assert int(parse_example(make_example(data, "png", "no_fire", "p"))["label_index"]) == 0
    with pytest.raises(ValueError, match="unknown label"):
        make_example(data, "png", "smoke", "p")


def test_threshold_reaches_target_recall_with_highest_precision():
    labels = np.array([1] * 10 + [0] * 10)
    probs = np.array([0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.3, 0.2] + [0.7, 0.5, 0.4] + [0.1] * 7)
    t = choose_threshold(labels, probs, 0.8)
    m = binary_metrics(labels, probs, t)
    assert m["recall"] >= 0.8
    assert 0.6 > t > 0.5  # keeps the 8 top positives, midpoint to the next score (0.5)
    # any higher threshold loses recall
    assert binary_metrics(labels, probs, 0.6 + 1e-9)["recall"] < 0.8
    t_all = choose_threshold(labels, probs, 1.0)
    assert binary_metrics(labels, probs, t_all)["recall"] == 1.0
    assert t_all == pytest.approx((0.2 + 0.1) / 2)


def test_threshold_edge_cases():
    assert choose_threshold(np.array([0, 0]), np.array([0.2, 0.4]), 0.9) == 0.5  # no positives
    t = choose_threshold(np.array([1, 1]), np.array([0.3, 0.9]), 1.0)  # nothing below: exact score
    assert t == pytest.approx(0.3)
    assert binary_metrics(np.array([1, 1]), np.array([0.3, 0.9]), t)["recall"] == 1.0
    with pytest.raises(ValueError):
        choose_threshold(np.array([1]), np.array([0.5]), 0.0)


def test_metrics_values():
    labels = np.array([1, 1, 0, 0, 1])
    probs = np.array([0.9, 0.4, 0.6, 0.1, 0.8])
    m = binary_metrics(labels, probs, 0.5)
    assert m["confusion_matrix"] == [[1, 1], [1, 2]]
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["roc_auc"] == pytest.approx(5 / 6)
    assert roc_auc(np.array([1, 0]), np.array([0.5, 0.5])) == pytest.approx(0.5)
    assert roc_auc(np.array([1, 1]), np.array([0.5, 0.6])) is None
    assert confusion_matrix(np.array([1, 0]), np.array([True, True])) == [[0, 1], [0, 1]]
