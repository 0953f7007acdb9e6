"""Loads the local stack's endpoints from `.firewatch/stack.env` into the environment.

`firewatch stack up` writes that file (KEY=VALUE lines, sourceable by a shell). Every
`firewatch` command calls `load_stack_env()` first, so clients reach the emulators without
the user exporting anything. Variables already set in the environment win, so a real
project (no emulator variables) is never redirected by a stale file. Set
`FIREWATCH_STACK_ENV=none` to ignore the file.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

DEFAULT_STATE_DIR = Path(".firewatch")


def stack_env_path() -> Path:
    return Path(os.environ.get("FIREWATCH_STATE_DIR", str(DEFAULT_STATE_DIR))) / "stack.env"


def parse_env_file(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        key, sep, value = line.partition("=")
        if not sep:
            continue
        values[key.strip()] = value.strip().strip("'\"")
    return values


def _answers(host_port: str, timeout: float = 0.5) -> bool:
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def load_stack_env(path: Path | None = None) -> dict[str, str]:
    """Set the stack's variables that are not already set; return what was applied."""
    if os.environ.get("FIREWATCH_STACK_ENV") == "none":
        return {}
    path = path or stack_env_path()
    if not path.is_file():
        return {}
    values = parse_env_file(path.read_text())
    pubsub = values.get("PUBSUB_EMULATOR_HOST")
    if pubsub and "PUBSUB_EMULATOR_HOST" not in os.environ and not _answers(pubsub):
        # Emulators that died would make every client retry a dead port forever: say so instead.
        print(
            f"firewatch: warning: {path} points at emulators that are not running ({pubsub}); "
            "ignoring it. Run `firewatch stack up` to start them (or `firewatch stack down` to clear it).",
            file=sys.stderr,
        )
        return {}
    applied = {}
    for key, value in values.items():
        if key not in os.environ:
            os.environ[key] = value
            applied[key] = value
    return applied
