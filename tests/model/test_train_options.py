"""`firewatch train` options added for tuning: --config files, snake_case flags, $AIP_MODEL_DIR,
the tuning metric (valid recall at a fixed precision) and its cloudml-hypertune report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from firewatch.cli.dispatch import build_parser, main
from model.cli import build_config, train_values
from model.config import TrainConfig
from model.metrics import recall_at_precision
from model.training.train import TUNING_METRIC, report_tuning_metric


def test_recall_at_precision():
    labels = np.array([1, 1, 0, 1, 0, 0, 1, 0])
    probs = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    assert recall_at_precision(labels, probs, 1.0) == 0.5  # top two are fires, the third is not
    assert recall_at_precision(labels, probs, 0.75) == 0.75  # 3 of the top 4
    assert recall_at_precision(labels, probs, 0.5) == 1.0
    assert recall_at_precision(np.array([0, 1]), np.array([0.9, 0.1]), 0.9) == 0.0
    assert recall_at_precision(np.array([0, 0]), np.array([0.9, 0.1]), 0.9) == 0.0
    # tied scores cannot be split by a threshold
    assert recall_at_precision(np.array([1, 0, 1]), np.array([0.5, 0.5, 0.1]), 0.9) == 0.0


def test_config_file_then_flags_then_aip_model_dir(tmp_path: Path, monkeypatch):
    path = tmp_path / "best.json"
    path.write_text(json.dumps({"backbone": "small_cnn", "learning_rate": 0.002, "dropout": 0.35, "epochs": 7}))
    monkeypatch.setenv("AIP_MODEL_DIR", "gs://b/trial/model")
    args = build_parser().parse_args(["train", "--config", str(path), "--data", "d", "--epochs", "2"])
    config = build_config(TrainConfig, train_values(args))
    assert (config.learning_rate, config.dropout, config.epochs, config.output) == (
        0.002,
        0.35,
        2,
        "gs://b/trial/model",
    )
    args = build_parser().parse_args(["train", "--config", str(path), "--data=d", "--output=o", "--learning_rate=0.01"])
    config = build_config(TrainConfig, train_values(args))
    assert (config.learning_rate, config.output) == (0.01, "o")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"data": "d", "output": "o", "learnin_rate": 0.1}', "--learnin-rate"),
        ('{"data": "d", "output": "o", "dropout": 1.5}', "--dropout"),
    ],
)
def test_bad_config_files_are_user_errors(tmp_path: Path, content: str, message: str, capsys, monkeypatch):
    monkeypatch.delenv("AIP_MODEL_DIR", raising=False)
    path = tmp_path / "c.json"
    path.write_text(content)
    assert main(["train", "--config", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_missing_config_file_and_missing_output(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.delenv("AIP_MODEL_DIR", raising=False)
    assert main(["train", "--config", str(tmp_path / "none.json"), "--data", "d", "--output", "o"]) == 2
    assert "cannot read --config" in capsys.readouterr().err
    assert main(["train", "--data", "d"]) == 2
    assert "--output" in capsys.readouterr().err


def test_tuning_metric_is_reported_with_cloudml_hypertune(tmp_path: Path, monkeypatch):
    target = tmp_path / "hypertune" / "output.metrics"
    monkeypatch.setenv("CLOUD_ML_HP_METRIC_FILE", str(target))
    report_tuning_metric(0.875, 6)
    lines = [json.loads(line) for line in target.read_text().splitlines() if line.strip()]
    assert float(lines[-1][TUNING_METRIC]) == 0.875 and int(lines[-1]["global_step"]) == 6
