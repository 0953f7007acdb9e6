"""`firewatch tune`: hyperparameter search with Optuna, every trial a real `firewatch train` run.

Optuna's TPE sampler (seeded) draws a configuration from `tuning.space.SEARCH_SPACE`; the trial
trains and exports with `model.training.train.train` (the same code and TrainConfig as `firewatch train`)
and is scored by `valid_recall_at_precision`: the recall on the validation split at the fixed
precision `target_precision` (ties broken by validation ROC AUC). Written to OUTPUT:
`trials.csv` / `trials.json` / `trials.md` (one row per trial: parameters, metrics, seconds),
`best_config.json` (a `firewatch train --config` file), and `best-model/` (the best trial's export).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from typing import Any

from model.config import TrainConfig
from model.training.train import TUNING_METRIC
from tuning.config import TuneConfig
from tuning.space import SEARCH_SPACE, restrict, suggest

TRIALS_CSV, TRIALS_JSON, TRIALS_MD, BEST_CONFIG = "trials.csv", "trials.json", "trials.md", "best_config.json"
BEST_MODEL = "best-model"


def trial_train_config(config: TuneConfig, params: dict[str, Any], model_dir: str, work_dir: str) -> TrainConfig:
    """The TrainConfig of one trial: the sampled parameters plus the tune job's fixed budget."""
    return TrainConfig(
        data=config.data,
        output=model_dir,
        work_dir=work_dir,
        epochs=config.epochs,
        fine_tune_epochs=config.fine_tune_epochs,
        batch_size=config.batch_size,
        target_precision=config.target_precision,
        seed=config.seed,
        verbose=0,
        **params,
    )


def best_config(train_config: TrainConfig) -> dict[str, Any]:
    """What `firewatch train --config` needs to retrain the best trial (data and output come from flags)."""
    return train_config.model_dump(
        exclude={"data", "output", "work_dir", "verbose", "report_hypertune", "data_description"}
    )


def rank_key(row: dict[str, Any]) -> tuple[float, float]:
    return (row.get(TUNING_METRIC) or 0.0, row.get("valid_roc_auc") or 0.0)


def run_tune(config: TuneConfig, progress=None) -> dict[str, Any]:
    import optuna

    from model.training.train import train

    space = restrict(SEARCH_SPACE, {"backbone": config.backbones, "image_size": config.image_sizes})
    os.makedirs(config.output, exist_ok=True)
    trials_dir = os.path.join(config.output, "trials")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=config.seed))
    rows: list[dict[str, Any]] = []

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial, space)
        folder = os.path.join(trials_dir, f"{trial.number:03d}")
        train_config = trial_train_config(config, params, os.path.join(folder, "model"), os.path.join(folder, "work"))
        started = time.perf_counter()
        result = train(train_config)
        v = result.valid_metrics
        row = {
            "trial": trial.number,
            **params,
            TUNING_METRIC: v[TUNING_METRIC],
            "valid_roc_auc": v["roc_auc"],
            "valid_accuracy": v["accuracy"],
            "valid_recall_at_threshold": v["recall"],
            "threshold": v["threshold"],
            "seconds": round(time.perf_counter() - started, 1),
            "model_dir": train_config.output,
            "config": best_config(train_config),
        }
        rows.append(row)
        if progress:
            progress(row)
        return float(v[TUNING_METRIC])

    study.optimize(objective, n_trials=config.trials, timeout=config.timeout_seconds)
    best = max(rows, key=rank_key)
    with open(os.path.join(config.output, BEST_CONFIG), "w") as f:
        json.dump(best["config"], f, indent=2)
    best_model = os.path.join(config.output, BEST_MODEL)
    shutil.rmtree(best_model, ignore_errors=True)
    shutil.copytree(best["model_dir"], best_model)
    if not config.keep_models:
        shutil.rmtree(trials_dir, ignore_errors=True)
    table = {
        "objective": f"{TUNING_METRIC} (valid recall at precision >= {config.target_precision}; ties: valid ROC AUC)",
        "data": config.data,
        "best_trial": best["trial"],
        "trials": rows,
        "search_space": [p.__dict__ for p in space],
    }
    write_tables(config.output, table, [p.name for p in space])
    return table


def write_tables(output: str, table: dict[str, Any], param_names: list[str]) -> None:
    columns = ["trial", *param_names, TUNING_METRIC, "valid_roc_auc", "valid_accuracy", "threshold", "seconds"]
    with open(os.path.join(output, TRIALS_JSON), "w") as f:
        json.dump(table, f, indent=2, default=list)
    with open(os.path.join(output, TRIALS_CSV), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(table["trials"])
    with open(os.path.join(output, TRIALS_MD), "w") as f:
        f.write(format_trials(table, columns))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def format_trials(table: dict[str, Any], columns: list[str]) -> str:
    lines = [
        f"objective: {table['objective']}; best trial: {table['best_trial']}",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for row in sorted(table["trials"], key=rank_key, reverse=True):
        lines.append("| " + " | ".join(_cell(row.get(c)) for c in columns) + " |")
    return "\n".join(lines) + "\n"
