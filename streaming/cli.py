"""`firewatch stream`: runs the streaming pipeline (local runner by default, or Dataflow)."""

from __future__ import annotations

import argparse

from firewatch.config.options import add_config_arguments, config_from_args
from firewatch.errors import ConfigError
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

    live = subparsers.add_parser(
        "liveness",
        help="is a local streaming job alive? (reads its --heartbeat-file; exit 0 alive, 1 stale)",
        description="For a supervisor (Docker HEALTHCHECK, Kubernetes exec probe): alive when the heartbeat "
        "file is fresh and the job pulled from its subscription within --max-age-seconds.",
    )
    live.add_argument("heartbeat_file", metavar="FILE", help="the job's --heartbeat-file")
    live.add_argument("--max-age-seconds", type=float, default=60.0, help="older than this is stale")
    live.set_defaults(func=_liveness)

    demo = subparsers.add_parser("demo", help="run the whole service on the local stack with simulated cameras")
    demo.add_argument("--workdir", default="artifacts", help="where the demo model and frames go")
    demo.add_argument("--keep-stack", action="store_true", help="leave the emulators running afterwards")
    demo.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for all rows")
    demo.set_defaults(func=_demo)


def _stream(args: argparse.Namespace) -> int:
    from firewatch.errors import UserError
    from streaming.runner import run

    try:
        cfg = config_from_args(StreamingConfig, args)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    return run(cfg, getattr(args, "beam_args", []))


def _liveness(args: argparse.Namespace) -> int:
    from streaming.liveness import read_verdict

    alive, line = read_verdict(args.heartbeat_file, args.max_age_seconds)
    print(f"firewatch liveness: {line}", flush=True)
    return 0 if alive else 1


def _demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from streaming.demo import run_demo

    return run_demo(Path(args.workdir), keep_stack=args.keep_stack, timeout=args.timeout)
