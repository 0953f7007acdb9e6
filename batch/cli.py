"""`firewatch batch`: scores a bounded set of images (local runner by default, or Dataflow)."""

from __future__ import annotations

import argparse

from batch.config import BatchConfig
from firewatch.config.options import add_config_arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "batch",
        help="score a folder, glob, TFRecords or BigQuery query of images (rows to files or BigQuery)",
        description="Unknown flags are Beam pipeline options, e.g. --runner DataflowRunner --region ...",
    )
    add_config_arguments(parser, BatchConfig)
    parser.set_defaults(func=_batch, passthrough=True)


def _batch(args: argparse.Namespace) -> int:
    from batch.runner import run
    from firewatch.config.options import config_from_args

    cfg = config_from_args(BatchConfig, args)
    summary = run(cfg, getattr(args, "beam_args", []))
    if summary is None:  # submitted to Dataflow: the job's counters are on its job page
        return 0
    print(summary.render())
    where = "BigQuery dataset " + cfg.dataset if cfg.to_bigquery else cfg.output
    print(f"rows written to {where}")
    return 0
