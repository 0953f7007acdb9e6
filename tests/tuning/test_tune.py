"""`firewatch tune`: the shared search space, a tiny real search, and retraining its best configuration."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import optuna
import pytest

from firewatch.cli import main
from firewatch.cloud.models import read_metadata
from model.training.train import TUNING_METRIC
from tuning.space import SEARCH_SPACE, restrict, suggest


def test_backbone_specific_parameters_are_conditional():
    fixed = {"learning_rate": 1e-3, "dropout": 0.1, "image_size": 96, "augment_strength": 0.5}
    small = suggest(optuna.trial.FixedTrial({"backbone": "small_cnn", **fixed}), SEARCH_SPACE)
    assert small == {"backbone": "small_cnn", **fixed}
    mobile_trial = optuna.trial.FixedTrial({"backbone": "mobilenet_v2", "fine_tune_from_block": 12, **fixed})
    mobile = suggest(mobile_trial, SEARCH_SPACE)
    assert mobile["fine_tune_from_block"] == 12


def test_restrict_rejects_values_outside_the_space():
    space = restrict(SEARCH_SPACE, {"image_size": [96], "backbone": []})
    assert next(p for p in space if p.name == "image_size").choices == (96,)
    assert next(p for p in space if p.name == "backbone").choices == ("small_cnn", "mobilenet_v2")
    with pytest.raises(ValueError, match="not in the search space"):
        restrict(SEARCH_SPACE, {"image_size": [100]})


def test_cli_rejects_an_image_size_outside_the_space(tmp_path: Path, capsys):
    assert main(["tune", "--data", str(tmp_path), "--output", str(tmp_path / "o"), "--image-sizes", "100"]) == 2
    assert "not in the search space" in capsys.readouterr().err


def test_tiny_search_then_train_with_its_best_config(demo_tfrecords_dir: Path, tmp_path: Path, capsys):
    out = tmp_path / "tune"
    argv = ["tune", "--data", str(demo_tfrecords_dir), "--output", str(out), "--trials", "2", "--epochs", "1",
            "--backbones", "small_cnn", "--image-sizes", "96"]  # fmt: skip
    assert main(argv) == 0
    assert "best trial" in capsys.readouterr().out
    with open(out / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["trial"] for r in rows] == ["0", "1"]
    assert all(r["backbone"] == "small_cnn" and r["image_size"] == "96" for r in rows)
    assert all(0.0 <= float(r[TUNING_METRIC]) <= 1.0 for r in rows)
    assert len({r["learning_rate"] for r in rows}) == 2  # two different configurations were tried
    table = json.loads((out / "trials.json").read_text())
    best = max(table["trials"], key=lambda r: (r[TUNING_METRIC], r["valid_roc_auc"]))
    assert table["best_trial"] == best["trial"]
    config = json.loads((out / "best_config.json").read_text())
    assert config["learning_rate"] == best["learning_rate"] and config["image_size"] == 96
    assert "data" not in config and "output" not in config
    assert read_metadata(str(out / "best-model")).image_size == 96
    assert not (out / "trials").exists()  # only the best model is kept by default
    # the best configuration is a `firewatch train --config` file
    model_dir = tmp_path / "retrained"
    argv = ["train", "--config", str(out / "best_config.json"), "--data", str(demo_tfrecords_dir),
            "--output", str(model_dir), "--verbose", "0"]  # fmt: skip
    assert main(argv) == 0
    metadata = read_metadata(str(model_dir))
    assert metadata.image_size == 96 and metadata.backbone == "small_cnn"
    assert metadata.metrics["valid"][TUNING_METRIC] >= 0.0
