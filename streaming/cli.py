"""`firewatch stream`: runs the streaming pipeline (local runner by default, or Dataflow)."""

from __future__ import annotations

import argparse

from firewatch.options import ConfigError, add_config_arguments, config_from_args
from streaming.config import StreamingConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "stream",
        help="run the streaming pipeline (Pub/Sub frames -> BigQuery rows + alerts)",
        description="Runs until Ctrl-C or SIGTERM locally. Unknown flags are Beam pipeline options, "
        "e.g. --runner DataflowRunner --region europe-west1 --temp_location gs://...",
    )
    add_config_arguments(parser, StreamingConfig)
    parser.set_defaults(func=_stream, passthrough=True)


def _stream(args: argparse.Namespace) -> int:
    from firewatch.cli import UserError
    from streaming.runner import run

    try:
        cfg = config_from_args(StreamingConfig, args)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    return run(cfg, getattr(args, "beam_args", []))
