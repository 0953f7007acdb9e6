"""The `firewatch` command: a thin argparse layer that dispatches to the job packages.

Each job package exposes `register(subparsers)` in its own `cli` module, which adds its
sub-commands and sets `func` on the parsed namespace. This module only wires them up and
loads the local stack's endpoints (`.firewatch/stack.env`) before any command runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from firewatch.cli.errors import unknown_to_beam
from firewatch.errors import ConfigError, UserError

# Modules that contribute sub-commands, in the order they appear in --help.
COMMAND_MODULES = (
    "model.cli",
    "edge.cli",
    "tuning.cli",
    "vertex.cli",
    "firewatch.cli.infra_commands",
    "streaming.cli",
    "batch.cli",
    "firewatch.cli.client_commands",
    "firewatch.clients.query",
    "firewatch.console.cli",
    "firewatch.monitoring.cli",
    "firewatch.monitoring.baselines_cli",
    "firewatch.notify.cli",
    "firewatch.cli.templates",
    "firewatch.cli.deploy",
)


class ExactParser(argparse.ArgumentParser):
    """An argument parser that takes flags only as spelled in full: a prefix never stands for a longer
    flag, so Beam's `--region` is never read as one of firewatch's `--regions-*`, and a typo is reported
    as unknown (with the flag meant, when one is close) rather than guessed. Its errors are one line,
    the problem first (`errors.parser_error`), not the usage."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None):
        self.argv = list(sys.argv[1:] if args is None else args)
        parsed, extras = super().parse_known_args(args, namespace)
        if not hasattr(parsed, "command_parser"):  # the innermost command's parser returns first
            parsed.command_parser = self
        return parsed, extras

    def error(self, message: str) -> NoReturn:
        from firewatch.cli.errors import parser_error

        self.exit(2, f"{self.prog}: error: {parser_error(self, message)}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = ExactParser(
        prog="firewatch",
        description="Fire detection on camera frames with Apache Beam (streaming and batch).",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="on an unexpected error, print its traceback after the one-line message"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ExactParser)
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a package not built yet must not break the others
            if exc.name and name.startswith(exc.name):
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from firewatch.cloud.stack_env import load_stack_env

    load_stack_env()
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    strays = unknown_to_beam(unknown) if getattr(args, "passthrough", False) else list(unknown)
    if strays:
        from firewatch.cli.errors import unknown_arguments

        args.command_parser.error(unknown_arguments(args.command_parser, strays))
    args.beam_args = unknown  # pipeline commands pass the rest to Beam's PipelineOptions
    try:
        result = args.func(args)
    except KeyboardInterrupt:
        return 130
    except (UserError, ConfigError) as exc:
        print(f"firewatch: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        hint = cloud_error_hint(exc)
        if hint is not None:
            print(f"firewatch: error: {hint}", file=sys.stderr)
            return 1
        # One line first; the trace only when asked for (`firewatch --verbose COMMAND ...`).
        print(f"firewatch: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        if args.verbose:
            raise
        print("firewatch: run again with `firewatch --verbose ...` for the traceback", file=sys.stderr)
        return 1
    return int(result or 0)


def cloud_error_hint(exc: BaseException) -> str | None:
    """A message for Google Cloud failures every command can meet (credentials, permissions,
    an unreachable service); None for anything else."""
    from google.api_core.exceptions import GoogleAPICallError
    from google.auth.exceptions import DefaultCredentialsError

    if isinstance(exc, DefaultCredentialsError):
        return (
            "no Google Cloud credentials: run `gcloud auth application-default login`, "
            "or `firewatch stack up` to use the local emulators."
        )
    if isinstance(exc, GoogleAPICallError):
        return (
            f"Google Cloud refused the call ({exc.code} {type(exc).__name__}): {exc.message}. "
            "Check the project, that the resources exist (`firewatch infra apply`) and your permissions."
        )
    return None


if __name__ == "__main__":
    sys.exit(main())
