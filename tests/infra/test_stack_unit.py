"""stack.env rendering, state files and stale-state handling, without emulators."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from firewatch.cloud.stack_env import load_stack_env, parse_env_file
from infra import procs, stack


def _endpoints(tmp_path: Path, services: dict[str, stack.ServiceState] | None = None) -> stack.StackEndpoints:
    return stack.StackEndpoints(
        project="firewatch-local",
        pubsub_port=1111,
        bigquery_port=2222,
        bigquery_grpc_port=3333,
        storage_port=4444,
        state_dir=str(tmp_path),
        started_at="2024-01-01T00:00:00+0000",
        services=services or {},
    )


def test_render_env_has_every_required_variable(tmp_path: Path) -> None:
    values = parse_env_file(stack.render_env(_endpoints(tmp_path)))
    assert values == {
        "PUBSUB_EMULATOR_HOST": "127.0.0.1:1111",
        "STORAGE_EMULATOR_HOST": "http://127.0.0.1:4444",
        "FIREWATCH_BIGQUERY_ENDPOINT": "http://127.0.0.1:2222",
        "FIREWATCH_BIGQUERY_GRPC_ENDPOINT": "127.0.0.1:3333",
        "GOOGLE_CLOUD_PROJECT": "firewatch-local",
        "FIREWATCH_PROJECT": "firewatch-local",
        "CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB": "http://127.0.0.1:1111/",
        "CLOUDSDK_AUTH_DISABLE_CREDENTIALS": "true",
        "CLOUDSDK_CORE_PROJECT": "firewatch-local",
        "FIREWATCH_FRAMES_BUCKET": "firewatch-frames",
    }


def test_render_env_documents_bq_cli_and_is_sourceable(tmp_path: Path) -> None:
    text = stack.render_env(_endpoints(tmp_path))
    bq_line = next(line for line in text.splitlines() if "bq --api=" in line)
    assert line_startswith_comment(bq_line)
    assert "--api=http://127.0.0.1:2222" in bq_line and "--project_id=firewatch-local" in bq_line
    assert "--oauth_access_token=dummy" in bq_line and "--discovery_file=" in bq_line
    path = tmp_path / "stack.env"
    path.write_text(text)
    out = subprocess.run(
        ["sh", "-c", f". {path}; echo $PUBSUB_EMULATOR_HOST $CLOUDSDK_CORE_PROJECT"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ["PATH"]},
    )
    assert out.stdout.split() == ["127.0.0.1:1111", "firewatch-local"]


def line_startswith_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def test_load_stack_env_reads_state_dir_and_does_not_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "stack.env").write_text(stack.render_env(_endpoints(tmp_path)))
    for key in stack.STACK_ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv("FIREWATCH_STACK_ENV", raising=False)
    monkeypatch.setenv("FIREWATCH_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "mine")
    monkeypatch.setattr("firewatch.cloud.stack_env._answers", lambda _: True)  # precedence, not liveness
    applied = load_stack_env()
    assert os.environ["PUBSUB_EMULATOR_HOST"] == "127.0.0.1:1111"
    assert os.environ["GOOGLE_CLOUD_PROJECT"] == "mine"  # already set: wins
    assert "GOOGLE_CLOUD_PROJECT" not in applied and "FIREWATCH_BIGQUERY_ENDPOINT" in applied


def test_status_without_state_reports_not_running(tmp_path: Path) -> None:
    current = stack.status(tmp_path)
    assert current.endpoints is None and not current.running and not current.healthy
    assert stack.down(tmp_path) == {}


def test_down_with_stale_state_cleans_files(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    svc = stack.ServiceState(
        name="pubsub",
        port=1,
        pgid=dead.pid,
        start_ticks=1,
        health_url="http://127.0.0.1:1/",
        log=str(tmp_path / "x.log"),
    )
    endpoints = _endpoints(tmp_path, {"pubsub": svc})
    stack.state_file(tmp_path).write_text(endpoints.model_dump_json())
    stack.env_file(tmp_path).write_text(stack.render_env(endpoints))
    current = stack.status(tmp_path)
    assert current.running and not current.healthy and current.services["pubsub"].pids == []
    assert stack.down(tmp_path) == {"pubsub": True}
    assert not stack.state_file(tmp_path).exists() and not stack.env_file(tmp_path).exists()


def test_down_never_signals_a_reused_pid(tmp_path: Path) -> None:
    # A live process whose start time does not match the record is someone else's: left alone.
    proc = procs.start_group([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "p.log")
    try:
        ticks = procs.process_start_ticks(proc.pid)
        assert ticks is not None
        svc = stack.ServiceState(
            name="storage",
            port=1,
            pgid=proc.pid,
            start_ticks=ticks - 1,
            health_url="http://127.0.0.1:1/",
            log=str(tmp_path / "p.log"),
        )
        stack.state_file(tmp_path).write_text(_endpoints(tmp_path, {"storage": svc}).model_dump_json())
        stack.down(tmp_path)
        assert proc.poll() is None
    finally:
        procs.stop_group(proc.pid, timeout=2, child=proc)


def test_missing_bq_env_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIREWATCH_BQ_EMULATOR_PYTHON", str(tmp_path / "nope" / "python"))
    with pytest.raises(stack.StackError, match="make setup"):
        stack.up(tmp_path)
    assert not stack.state_file(tmp_path).exists()


def test_unreadable_state_file_is_reported(tmp_path: Path) -> None:
    stack.state_file(tmp_path).write_text("{not json")
    with pytest.raises(stack.StackError, match="unreadable"):
        stack.status(tmp_path)
