"""Every gcloud command in docs/notify.md exists and takes the flags the page gives it (checked
against `gcloud ... --help`, which works offline), and every `firewatch notify` flag on the page and
in the README is one the command has."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from firewatch.cli.dispatch import build_parser

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "notify.md").read_text()


def commands(text: str, program: str) -> list[list[str]]:
    """The shell commands of the page's bash blocks that start with `program`, continuations joined."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip()
            if line.startswith(program + " "):
                found.append(shlex.split(line.replace("$(", "").replace(")", "")))
    return found


def flags(words: list[str]) -> set[str]:
    return {w.split("=", 1)[0] for w in words if w.startswith("--")}


GCLOUD = commands(DOC, "gcloud")


def test_the_page_has_the_commands_it_needs():
    starts = [" ".join(c[:4]) for c in GCLOUD]
    assert "gcloud run deploy firewatch-notify" in starts
    push = [
        c for c in GCLOUD if c[:4] == ["gcloud", "pubsub", "subscriptions", "create"] and "--push-endpoint" in flags(c)
    ]
    assert push and {"--push-auth-service-account", "--dead-letter-topic"} <= flags(push[0])


@pytest.mark.skipif(shutil.which("gcloud") is None, reason="gcloud is not installed")
@pytest.mark.parametrize("argv", GCLOUD, ids=[" ".join(c[:4]) for c in GCLOUD])
def test_gcloud_commands_on_the_page_take_their_flags(argv):
    words = [w for w in argv if not w.startswith("-")]
    proc = subprocess.run([*words, "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    missing = {f for f in flags(argv) if f not in proc.stdout and f.replace("--no-", "--[no-]") not in proc.stdout}
    assert not missing, f"{' '.join(words)}: no such flag(s) {sorted(missing)}"


def test_firewatch_notify_flags_on_the_page_and_in_the_readme_exist():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["notify"]
    known = {opt for action in sub._actions for opt in action.option_strings}
    readme = (REPO / "README.md").read_text()
    used = [c for c in commands(DOC, "firewatch") + commands(readme, "firewatch") if c[1] == "notify"]
    assert used
    for argv in used:
        assert flags(argv) <= known, flags(argv) - known
