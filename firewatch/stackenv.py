"""Loads the local stack's endpoints from `.firewatch/stack.env` into the environment.

`firewatch stack up` writes that file (KEY=VALUE lines, sourceable by a shell). Every
`firewatch` command calls `load_stack_env()` first, so clients reach the emulators without
the user exporting anything. Variables already set in the environment win, so a real
project (no emulator variables) is never redirected by a stale file. Set
`FIREWATCH_STACK_ENV=none` to ignore the file.
"""

from __future__ import annotations

import os
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


def load_stack_env(path: Path | None = None) -> dict[str, str]:
    """Set the stack's variables that are not already set; return what was applied."""
    if os.environ.get("FIREWATCH_STACK_ENV") == "none":
        return {}
    path = path or stack_env_path()
    if not path.is_file():
        return {}
    applied = {}
    for key, value in parse_env_file(path.read_text()).items():
        if key not in os.environ:
            os.environ[key] = value
            applied[key] = value
    return applied
