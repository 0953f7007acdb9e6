"""Runs `firewatch stream` as a separate process group on the local stack, and stops it.

Used by the demo and the end-to-end tests: the pipeline gets its own process group, its
output goes to a log file, and stopping sends SIGTERM to the group (the runner drains what it
pulled, then exits) so that no process is left behind.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from infra import procs


def start_stream(
    model_dir: str | Path | None, log_path: Path, extra_args: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    """`model_dir` None: the model comes from `extra_args` (`--model-registry REGISTRY`)."""
    model = ["--model", str(model_dir)] if model_dir is not None else []
    argv = [sys.executable, "-u", "-m", "firewatch.cli", "stream", *model, *extra_args]
    return procs.start_group(argv, log_path)


def stop_stream(process: subprocess.Popen[bytes], timeout: float = 90.0) -> bool:
    """SIGTERM the pipeline's process group (it drains, up to --drain-seconds, then exits);
    True when no process of it is left."""
    return procs.stop_group(process.pid, timeout=timeout, child=process)


def group_alive(process: subprocess.Popen[bytes]) -> bool:
    return bool(procs.group_members(process.pid))
