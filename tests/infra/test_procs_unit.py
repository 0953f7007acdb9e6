"""Process-group plumbing of the local stack, without emulators."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from infra import procs


def test_free_port_is_bindable_and_excludes() -> None:
    port = procs.free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
    assert procs.free_port(exclude={port}) != port


def test_stop_group_kills_children_that_outlive_the_leader(tmp_path: Path) -> None:
    # The leader forks a long-lived child (like gcloud -> java); stopping the group must end both.
    script = (
        "import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); time.sleep(300)"
    )
    proc = procs.start_group([sys.executable, "-c", script], tmp_path / "logs" / "x.log")
    deadline = time.monotonic() + 10
    while len(procs.group_members(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    members = procs.group_members(proc.pid)
    assert len(members) == 2 and proc.pid in members
    assert procs.stop_group(proc.pid, timeout=5, child=proc)
    assert procs.group_members(proc.pid) == []
    assert proc.returncode is not None
    assert "start:" in (tmp_path / "logs" / "x.log").read_text()


def test_stop_group_escalates_to_sigkill(tmp_path: Path) -> None:
    script = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('rea' + 'dy-now', flush=True); time.sleep(300)"
    )
    proc = procs.start_group([sys.executable, "-c", script], tmp_path / "ignore.log")
    deadline = time.monotonic() + 10
    while "ready-now" not in procs.tail(tmp_path / "ignore.log") and time.monotonic() < deadline:
        time.sleep(0.05)
    began = time.monotonic()
    assert procs.stop_group(proc.pid, timeout=0.5, child=proc)
    assert time.monotonic() - began < 5
    assert proc.returncode == -9


def test_http_ok_false_when_nothing_listens() -> None:
    assert not procs.http_ok(f"http://127.0.0.1:{procs.free_port()}/", timeout=0.5)


def test_process_start_ticks_identifies_a_live_process() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert procs.process_start_ticks(proc.pid) is not None
    finally:
        proc.kill()
        proc.wait()
    assert procs.process_start_ticks(proc.pid) is None
