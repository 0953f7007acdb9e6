"""`firewatch tune`: flags -> TuneConfig -> an Optuna search whose best trial is a `firewatch train --config` file."""

from __future__ import annotations

import argparse

from firewatch.config.options import add_config_arguments
from tuning.config import TuneConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    tune = subparsers.add_parser(
        "tune",
        help="hyperparameter search (Optuna) over firewatch train; writes trials table + best_config.json",
    )
    add_config_arguments(tune, TuneConfig)
    tune.set_defaults(func=_tune)


def _tune(args: argparse.Namespace) -> int:
    from firewatch.errors import UserError
    from model.cli import build_config, flag_values, user_errors
    from model.training.train import TUNING_METRIC
    from tuning.tune import BEST_CONFIG, BEST_MODEL, TRIALS_CSV, TRIALS_MD, run_tune

    config = build_config(TuneConfig, flag_values(args, TuneConfig))

    def progress(row) -> None:
        shown = ("backbone", "learning_rate", "dropout", "image_size", "augment_strength", "fine_tune_from_block")
        params = ", ".join(
            f"{k}={row[k]:.4g}" if isinstance(row[k], float) else f"{k}={row[k]}" for k in shown if k in row
        )
        print(f"trial {row['trial']}: {TUNING_METRIC} {row[TUNING_METRIC]:.4f}  ({params}; {row['seconds']}s)")

    try:
        with user_errors():
            table = run_tune(config, progress)
    except ValueError as exc:  # a --backbones / --image-sizes value outside the search space
        raise UserError(str(exc)) from None
    best = table["trials"][[r["trial"] for r in table["trials"]].index(table["best_trial"])]
    print(
        f"best trial {best['trial']}: {TUNING_METRIC} {best[TUNING_METRIC]:.4f}; wrote {TRIALS_CSV}, {TRIALS_MD}, "
        f"{BEST_CONFIG} and {BEST_MODEL}/ to {config.output}\n"
        f"retrain it: firewatch train --config {config.output}/{BEST_CONFIG} --data DATA --output MODEL_DIR"
    )
    return 0
