"""`firewatch baselines update` (flags = `BaselinesUpdateConfig`, 1:1)."""

from __future__ import annotations

import argparse

from firewatch.config.options import add_config_arguments, config_from_args
from firewatch.monitoring.baselines_job import BaselinesUpdateConfig

# Settings of the scoring side only (how thresholds are raised and re-read): no flag here.
SCORING_ONLY = ("baselines_enabled", "baselines_margin", "baselines_max_threshold", "baselines_refresh_seconds")


def register(subparsers: argparse._SubParsersAction) -> None:
    baselines = subparsers.add_parser("baselines", help="per-camera region baselines that raise regions' thresholds")
    sub = baselines.add_subparsers(dest="baselines_command", metavar="BASELINES_COMMAND")
    sub.required = True
    update = sub.add_parser(
        "update", help="learn each region's quiet maximum from recent predictions (schedule hourly)"
    )
    add_config_arguments(update, BaselinesUpdateConfig)
    update.set_defaults(func=_update)


def _update(args: argparse.Namespace) -> int:
    from firewatch.monitoring.baselines_job import update_baselines

    report = update_baselines(config_from_args(BaselinesUpdateConfig, args))
    print(
        f"baselines: {report.rows} region-hours of {report.cameras} camera(s) from frames captured "
        f"{report.window_start:%Y-%m-%d %H:%M} to {report.window_end:%Y-%m-%d %H:%M} UTC "
        f"(computed_at {report.computed_at:%Y-%m-%dT%H:%M:%SZ})"
    )
    return 0
