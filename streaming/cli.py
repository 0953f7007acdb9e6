"""`firewatch stream`: runs the streaming pipeline (local runner by default, or Dataflow)."""

from __future__ import annotations

import argparse
from typing import Any

from pydantic import BaseModel

from firewatch.config.options import add_config_arguments, config_from_args
from firewatch.errors import ConfigError, UserError
from streaming.config import LivenessConfig, StreamDemoConfig, StreamingConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "stream",
        help="run the streaming pipeline (Pub/Sub frames -> BigQuery rows + alerts)",
        description="Runs until Ctrl-C or SIGTERM locally. Unknown flags are Beam pipeline options, "
        "e.g. --runner DataflowRunner --region europe-west1 --temp_location gs://...",
    )
    add_config_arguments(parser, StreamingConfig)
    parser.set_defaults(func=_stream, passthrough=True)

    live = subparsers.add_parser(
        "liveness",
        help="is a local streaming job alive? (reads its --heartbeat-file; exit 0 alive, 1 stale)",
        description="For a supervisor (Docker HEALTHCHECK, Kubernetes exec probe): alive when the heartbeat "
        "file is fresh and the job pulled from its subscription within --max-age-seconds.",
    )
    add_config_arguments(live, LivenessConfig, positional=("heartbeat_file",))
    live.set_defaults(func=_liveness)

    demo = subparsers.add_parser("demo", help="run the whole service on the local stack with simulated cameras")
    add_config_arguments(demo, StreamDemoConfig)
    demo.set_defaults(func=_demo)


def _config(model: type[BaseModel], args: argparse.Namespace) -> Any:
    try:
        return config_from_args(model, args)
    except ConfigError as exc:
        raise UserError(str(exc)) from None


def _stream(args: argparse.Namespace) -> int:
    from streaming.runner import run

    return run(_config(StreamingConfig, args), getattr(args, "beam_args", []))


def _liveness(args: argparse.Namespace) -> int:
    from streaming.liveness import read_verdict

    cfg = _config(LivenessConfig, args)
    alive, line = read_verdict(cfg.heartbeat_file, cfg.max_age_seconds)
    print(f"firewatch liveness: {line}", flush=True)
    return 0 if alive else 1


def _demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from streaming.demo import run_demo

    cfg = _config(StreamDemoConfig, args)
    return run_demo(Path(cfg.workdir), keep_stack=cfg.keep_stack, timeout=cfg.timeout)
