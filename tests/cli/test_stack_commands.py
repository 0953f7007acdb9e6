"""`firewatch stack up|status|down` from a shell: endpoints, stack.env, and no process left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from firewatch.cloud.stack_env import parse_env_file
from infra import procs, stack

pytestmark = pytest.mark.stack

FIREWATCH = [sys.executable, "-m", "firewatch.cli"]


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(FIREWATCH + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)


def _emulator_pids(marker: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,stat,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if marker in line and " Z" not in line]


def test_stack_up_status_down_leaves_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in stack.STACK_ENV_KEYS and k != "FIREWATCH_STATE_DIR"}
    up = _run(["stack", "up"], tmp_path, env)
    assert up.returncode == 0, up.stderr
    state = tmp_path / ".firewatch"
    recorded = json.loads((state / "stack.json").read_text())
    pgids = [svc["pgid"] for svc in recorded["services"].values()]
    try:
        assert sorted(recorded["services"]) == ["bigquery", "pubsub", "storage"]
        # the Pub/Sub group holds the gcloud wrapper and its Java child
        assert len(procs.group_members(recorded["services"]["pubsub"]["pgid"])) >= 2
        values = parse_env_file((state / "stack.env").read_text())
        assert values["PUBSUB_EMULATOR_HOST"] == f"127.0.0.1:{recorded['pubsub_port']}"
        assert values["STORAGE_EMULATOR_HOST"] == f"http://127.0.0.1:{recorded['storage_port']}"
        assert values["FIREWATCH_BIGQUERY_ENDPOINT"] == f"http://127.0.0.1:{recorded['bigquery_port']}"
        assert values["CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB"].endswith(f":{recorded['pubsub_port']}/")
        assert (
            len(
                {
                    recorded["pubsub_port"],
                    recorded["bigquery_port"],
                    recorded["storage_port"],
                    recorded["bigquery_grpc_port"],
                }
            )
            == 4
        )
        for svc in recorded["services"].values():
            assert procs.http_ok(svc["health_url"])
            assert Path(svc["log"]).is_file()

        status = _run(["stack", "status", "--json"], tmp_path, env)
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["healthy"] is True

        again = _run(["stack", "up", "--json"], tmp_path, env)  # idempotent: same stack
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["pubsub_port"] == recorded["pubsub_port"]
    finally:
        down = _run(["stack", "down"], tmp_path, env)
    assert down.returncode == 0, down.stderr
    assert all(procs.group_members(pgid) == [] for pgid in pgids)
    assert _emulator_pids(str(state)) == []
    assert not (state / "stack.env").exists() and not (state / "stack.json").exists()
    after = _run(["stack", "status"], tmp_path, env)
    assert after.returncode == 3 and "not running" in after.stdout
