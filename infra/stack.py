"""The local stack: Pub/Sub, BigQuery and GCS emulators on free loopback ports.

`up()` starts the three emulators (each in its own process group, logs in `<state>/logs/*.log`;
their command lines are in `infra.emulators`), waits for their health checks, then writes
`<state>/stack.json` (pids, ports) and the sourceable `<state>/stack.env` that every `firewatch`
command loads (`firewatch.cloud.stack_env`); the bookkeeping is `infra.stack_state`. `status()`
checks them, `down()` stops every process group and removes both files. The state dir is
`.firewatch/` in the working directory, or `$FIREWATCH_STATE_DIR`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from infra import emulators, procs
from infra.emulators import Launch
from infra.stack_state import (
    DEFAULT_BUCKET,
    DEFAULT_PROJECT,
    HOST,
    SERVICES,
    STACK_ENV_KEYS,
    ServiceHealth,
    ServiceState,
    StackEndpoints,
    StackError,
    StackStatus,
    bq_cli_command,
    env_file,
    read_endpoints,
    render_env,
    resolve_state_dir,
    state_file,
    write_atomic,
)

__all__ = [
    "DEFAULT_BUCKET", "DEFAULT_PROJECT", "HOST", "SERVICES", "STACK_ENV_KEYS", "ServiceHealth", "ServiceState",
    "StackEndpoints", "StackError", "StackStatus", "bq_cli_command", "down", "env_file", "endpoints_json",
    "read_endpoints", "render_env", "resolve_state_dir", "start_service", "state_file", "status", "stop_service", "up",
]  # fmt: skip


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in STACK_ENV_KEYS}
    env.update({"PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"})
    return env


def up(
    state_dir: Path | str | None = None,
    project: str = DEFAULT_PROJECT,
    bucket: str = DEFAULT_BUCKET,
    timeout: float = 90.0,
) -> StackEndpoints:
    """Start the three emulators (or return the healthy stack already running here)."""
    state = resolve_state_dir(state_dir).resolve()
    current = status(state)
    if current.healthy and current.endpoints is not None:
        if current.endpoints.project != project:
            raise StackError(
                f"a stack for project {current.endpoints.project!r} is already running in {state}; "
                "run `firewatch stack down` first to start one for another project."
            )
        write_atomic(env_file(state), render_env(current.endpoints))
        return current.endpoints
    if current.endpoints is not None:  # stale or half-dead: clear it first
        down(state)

    ports = emulators.free_ports()
    launches = emulators.launches(state, project, bucket, ports)
    began = time.monotonic()
    started: dict[str, subprocess.Popen[bytes]] = {}
    services: dict[str, ServiceState] = {}
    endpoints = StackEndpoints(
        project=project,
        pubsub_port=ports["pubsub"],
        bigquery_port=ports["bigquery"],
        bigquery_grpc_port=ports["bigquery_grpc"],
        storage_port=ports["storage"],
        bucket=bucket,
        state_dir=str(state),
        started_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    try:
        env = _child_env()
        for launch in launches:
            log = state / "logs" / f"{launch.name}.log"
            proc = procs.start_group(launch.argv, log, env=env, cwd=state)
            started[launch.name] = proc
            services[launch.name] = ServiceState(
                name=launch.name,
                port=launch.port,
                pgid=proc.pid,
                start_ticks=procs.process_start_ticks(proc.pid),
                health_url=launch.health_url,
                log=str(log),
            )
        endpoints.services = services
        # Recorded before waiting, so an interrupted start can still be cleaned up by `stack down`.
        write_atomic(state_file(state), endpoints.model_dump_json(indent=2))
        _wait_healthy(launches, started, services, timeout)
    except BaseException:
        for proc in started.values():
            procs.stop_group(proc.pid, timeout=5, child=proc)
        state_file(state).unlink(missing_ok=True)
        raise
    endpoints.startup_seconds = round(time.monotonic() - began, 2)
    write_atomic(state_file(state), endpoints.model_dump_json(indent=2))
    write_atomic(env_file(state), render_env(endpoints))
    return endpoints


def _wait_healthy(
    launches: list[Launch],
    started: dict[str, subprocess.Popen[bytes]],
    services: dict[str, ServiceState],
    timeout: float,
) -> None:
    pending = {launch.name: launch for launch in launches}
    deadline = time.monotonic() + timeout
    while pending:
        for name in list(pending):
            if procs.http_ok(pending[name].health_url, timeout=0.5):
                del pending[name]
            elif started[name].poll() is not None:
                raise StackError(
                    f"the {name} emulator exited with code {started[name].returncode} during start-up. "
                    f"Log {services[name].log}:\n{procs.tail(Path(services[name].log))}"
                )
        if pending and time.monotonic() > deadline:
            name = sorted(pending)[0]
            raise StackError(
                f"the {', '.join(sorted(pending))} emulator(s) did not become healthy within {timeout:.0f} s. "
                f"Log {services[name].log}:\n{procs.tail(Path(services[name].log))}"
            )
        if pending:
            time.sleep(0.1)


def _alive_members(service: ServiceState) -> list[int]:
    """Processes of the service's group, unless its leader pid now belongs to another process."""
    ticks = procs.process_start_ticks(service.pgid)
    if ticks is not None and service.start_ticks is not None and ticks != service.start_ticks:
        return []  # the pid was reused by an unrelated process: never signal it
    return procs.group_members(service.pgid)


def status(state_dir: Path | str | None = None) -> StackStatus:
    """Recorded endpoints plus, per service, its live pids and health check."""
    endpoints = read_endpoints(state_dir)
    if endpoints is None:
        return StackStatus(endpoints=None)
    services = {
        name: ServiceHealth(
            name=name,
            port=svc.port,
            pids=_alive_members(svc),
            healthy=procs.http_ok(svc.health_url),
        )
        for name, svc in endpoints.services.items()
    }
    return StackStatus(endpoints=endpoints, services=services)


def down(state_dir: Path | str | None = None, purge: bool = False, timeout: float = 10.0) -> dict[str, bool]:
    """Stop every recorded process group; remove stack.json/stack.env (and data when `purge`).

    Returns {service: stopped_cleanly}. Raises StackError if a process survived SIGKILL.
    """
    state = resolve_state_dir(state_dir)
    endpoints = read_endpoints(state)
    result: dict[str, bool] = {}
    if endpoints is not None:
        for name, svc in endpoints.services.items():
            if not _alive_members(svc):
                result[name] = True
                continue
            result[name] = procs.stop_group(svc.pgid, timeout=timeout)
    survivors = [name for name, ok in result.items() if not ok]
    if survivors:
        raise StackError(
            f"could not stop {', '.join(survivors)}; see `ps -o pid,pgid,cmd -g PGID` and kill them by hand."
        )
    env_file(state).unlink(missing_ok=True)
    state_file(state).unlink(missing_ok=True)
    if purge:
        shutil.rmtree(state / "data", ignore_errors=True)
    return result


def stop_service(name: str, state_dir: Path | str | None = None, timeout: float = 10.0) -> None:
    """Stop one emulator of the running stack (its data stays): an outage, for fault tests."""
    endpoints = read_endpoints(state_dir)
    if endpoints is None or name not in endpoints.services:
        raise StackError(f"no running {name} emulator recorded; run `firewatch stack up` first")
    if not procs.stop_group(endpoints.services[name].pgid, timeout=timeout):
        raise StackError(f"could not stop the {name} emulator")


def start_service(name: str, state_dir: Path | str | None = None, timeout: float = 90.0) -> None:
    """Start one stopped emulator again on its recorded port, with its data."""
    state = resolve_state_dir(state_dir).resolve()
    endpoints = read_endpoints(state)
    if endpoints is None or name not in endpoints.services:
        raise StackError(f"no {name} emulator recorded; run `firewatch stack up` first")
    ports = {
        "pubsub": endpoints.pubsub_port,
        "bigquery": endpoints.bigquery_port,
        "bigquery_grpc": endpoints.bigquery_grpc_port,
        "storage": endpoints.storage_port,
    }
    launch = emulators.relaunch(name, state, endpoints.project, endpoints.bucket, ports)
    log = state / "logs" / f"{name}.log"
    proc = procs.start_group(launch.argv, log, env=_child_env(), cwd=state)
    service = ServiceState(
        name=name,
        port=launch.port,
        pgid=proc.pid,
        start_ticks=procs.process_start_ticks(proc.pid),
        health_url=launch.health_url,
        log=str(log),
    )
    endpoints.services[name] = service
    write_atomic(state_file(state), endpoints.model_dump_json(indent=2))
    _wait_healthy([launch], {name: proc}, {name: service}, timeout)


def endpoints_json(endpoints: StackEndpoints) -> str:
    return json.dumps(endpoints.model_dump(), indent=2)
