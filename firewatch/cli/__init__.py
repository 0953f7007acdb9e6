"""The `firewatch` command line: a thin layer over the job packages (see `firewatch.cli.dispatch`)."""

from firewatch.cli.dispatch import main

__all__ = ["main"]
