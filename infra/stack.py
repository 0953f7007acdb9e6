"""The local stack: Pub/Sub, BigQuery and GCS emulators on free loopback ports.

`up()` starts the three emulators (each in its own process group, logs in `<state>/logs/*.log`),
waits for their health checks, then writes `<state>/stack.json` (pids, ports) and the sourceable
`<state>/stack.env` that every `firewatch` command loads (`firewatch.stackenv`). `status()` checks
them, `down()` stops every process group and removes both files. The state dir is `.firewatch/`
in the working directory, or `$FIREWATCH_STATE_DIR`.

- Pub/Sub: `gcloud beta emulators pubsub start` (gcloud SDK + Java); health `GET /`.
- BigQuery: `bqemulator` in its own venv (`.venv-bq`), started through `infra/bq_emulator_launcher.py`
  so DuckDB's spatial extension comes from a wheel (offline); health `GET /readyz`.
- GCS: `gcp-storage-emulator` from the project venv; health `GET /`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from firewatch.cli import UserError
from firewatch.stackenv import DEFAULT_STATE_DIR
from infra import procs

DEFAULT_PROJECT = "firewatch-local"
DEFAULT_BUCKET = "firewatch-frames"
HOST = "127.0.0.1"
SERVICES = ("pubsub", "bigquery", "storage")
REPO_ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = Path(__file__).resolve().parent / "bq_emulator_launcher.py"

# Variables `stack.env` sets; children never inherit stale values of them.
STACK_ENV_KEYS = (
    "FIREWATCH_FRAMES_BUCKET",
    "PUBSUB_EMULATOR_HOST",
    "STORAGE_EMULATOR_HOST",
    "FIREWATCH_BIGQUERY_ENDPOINT",
    "FIREWATCH_BIGQUERY_GRPC_ENDPOINT",
    "GOOGLE_CLOUD_PROJECT",
    "FIREWATCH_PROJECT",
    "CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB",
    "CLOUDSDK_AUTH_DISABLE_CREDENTIALS",
    "CLOUDSDK_CORE_PROJECT",
)


class StackError(UserError):
    """The stack could not be started, checked or stopped; the message says what to do."""


class ServiceState(BaseModel):
    """One emulator process group as recorded in stack.json."""

    name: str
    port: int
    pgid: int
    start_ticks: int | None = None
    health_url: str
    log: str


class StackEndpoints(BaseModel):
    """Where the running emulators listen, and how to reach them (the content of stack.json)."""

    project: str
    host: str = HOST
    pubsub_port: int
    bigquery_port: int
    bigquery_grpc_port: int
    storage_port: int
    bucket: str = DEFAULT_BUCKET
    state_dir: str
    started_at: str
    startup_seconds: float = 0.0
    services: dict[str, ServiceState] = {}

    @property
    def pubsub_emulator_host(self) -> str:
        return f"{self.host}:{self.pubsub_port}"

    @property
    def storage_emulator_host(self) -> str:
        return f"http://{self.host}:{self.storage_port}"

    @property
    def bigquery_endpoint(self) -> str:
        return f"http://{self.host}:{self.bigquery_port}"

    @property
    def bigquery_grpc_endpoint(self) -> str:
        return f"{self.host}:{self.bigquery_grpc_port}"

    def env(self) -> dict[str, str]:
        """The environment variables that point clients and the gcloud CLI at the emulators."""
        return {
            "PUBSUB_EMULATOR_HOST": self.pubsub_emulator_host,
            "STORAGE_EMULATOR_HOST": self.storage_emulator_host,
            "FIREWATCH_BIGQUERY_ENDPOINT": self.bigquery_endpoint,
            "FIREWATCH_BIGQUERY_GRPC_ENDPOINT": self.bigquery_grpc_endpoint,
            "GOOGLE_CLOUD_PROJECT": self.project,
            "FIREWATCH_PROJECT": self.project,
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB": f"http://{self.pubsub_emulator_host}/",
            "CLOUDSDK_AUTH_DISABLE_CREDENTIALS": "true",
            "CLOUDSDK_CORE_PROJECT": self.project,
            "FIREWATCH_FRAMES_BUCKET": self.bucket,
        }


class ServiceHealth(BaseModel):
    name: str
    port: int
    pids: list[int]
    healthy: bool


class StackStatus(BaseModel):
    """`status()`: the recorded endpoints (None when no stack.json) and each service's health."""

    endpoints: StackEndpoints | None
    services: dict[str, ServiceHealth] = {}

    @property
    def running(self) -> bool:
        return self.endpoints is not None and bool(self.services)

    @property
    def healthy(self) -> bool:
        return self.running and all(s.healthy for s in self.services.values())


@dataclass(frozen=True)
class _Launch:
    name: str
    argv: list[str]
    port: int
    health_url: str


# -- paths ---------------------------------------------------------------------------------------


def resolve_state_dir(explicit: Path | str | None = None) -> Path:
    """The state dir: `explicit`, else $FIREWATCH_STATE_DIR, else `.firewatch` (see firewatch.stackenv)."""
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("FIREWATCH_STATE_DIR", str(DEFAULT_STATE_DIR)))


def state_file(state_dir: Path) -> Path:
    return state_dir / "stack.json"


def env_file(state_dir: Path) -> Path:
    return state_dir / "stack.env"


def _which(name: str, hint: str, search: str | None = None) -> str:
    found = shutil.which(name, path=search) if search else None
    found = found or shutil.which(name)
    if not found:
        raise StackError(f"`{name}` not found on PATH. {hint}")
    return found


def bq_emulator_python() -> Path:
    """The BigQuery emulator's interpreter: $FIREWATCH_BQ_EMULATOR_PYTHON or `.venv-bq/bin/python`."""
    path = Path(os.environ.get("FIREWATCH_BQ_EMULATOR_PYTHON", REPO_ROOT / ".venv-bq" / "bin" / "python"))
    if not path.exists():
        raise StackError(
            f"BigQuery emulator environment not found ({path}). Run `make setup` (it builds .venv-bq "
            "from infra/requirements-bq-emulator.txt) or set FIREWATCH_BQ_EMULATOR_PYTHON."
        )
    return path


def gcloud_sdk_root() -> Path | None:
    gcloud = shutil.which("gcloud")
    return Path(os.path.realpath(gcloud)).parent.parent if gcloud else None


def bq_cli_command(endpoints: StackEndpoints) -> str:
    """A `bq` CLI prefix that talks to the BigQuery emulator (append e.g. `query --nouse_legacy_sql ...`)."""
    root = gcloud_sdk_root()
    discovery = root / "platform" / "bq" / "discovery_next" / "bigquery.json" if root else Path("bigquery.json")
    return (
        f"bq --api={endpoints.bigquery_endpoint} --project_id={endpoints.project} "
        f"--oauth_access_token=dummy --discovery_file={discovery}"
    )


# -- env file ------------------------------------------------------------------------------------


def render_env(endpoints: StackEndpoints) -> str:
    """The content of stack.env: `export KEY=VALUE` lines, sourceable by sh/bash."""
    lines = [
        f"# Firewatch local stack, written by `firewatch stack up` at {endpoints.started_at}.",
        "# Every `firewatch` command loads it; in a shell: `. .firewatch/stack.env`.",
        f"# bq CLI against the emulator: {bq_cli_command(endpoints)} query --nouse_legacy_sql 'SELECT 1'",
        f"# gcloud: gcloud pubsub topics publish frames --message=hi  (project {endpoints.project})",
    ]
    lines += [f"export {key}={value}" for key, value in endpoints.env().items()]
    return "\n".join(lines) + "\n"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def read_endpoints(state_dir: Path | str | None = None) -> StackEndpoints | None:
    """The recorded stack (stack.json), or None when none was started here."""
    path = state_file(resolve_state_dir(state_dir))
    if not path.is_file():
        return None
    try:
        return StackEndpoints.model_validate_json(path.read_text())
    except ValueError as exc:
        raise StackError(f"{path} is unreadable ({exc}); stop leftovers by hand and delete it.") from exc


# -- start / check / stop ------------------------------------------------------------------------


def _launches(state_dir: Path, project: str, bucket: str) -> tuple[list[_Launch], dict[str, int]]:
    gcloud = _which("gcloud", "Install the Google Cloud SDK with the `beta` and `pubsub-emulator` components.")
    _which("java", "The Pub/Sub emulator needs Java 17+ (e.g. apt-get install openjdk-17-jre-headless).")
    bq_python = bq_emulator_python()
    gcs = _which(
        "gcp-storage-emulator",
        "It is part of the project venv (requirements.txt); run `make setup`.",
        search=str(Path(sys.executable).parent),
    )
    ports: dict[str, int] = {}
    for key in ("pubsub", "bigquery", "bigquery_grpc", "storage"):
        ports[key] = procs.free_port(HOST, exclude=set(ports.values()))
    data = state_dir / "data"
    for sub in ("pubsub", "bigquery", "storage"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    launches = [
        _Launch(
            "pubsub",
            [
                gcloud,
                "beta",
                "emulators",
                "pubsub",
                "start",
                f"--host-port={HOST}:{ports['pubsub']}",
                f"--project={project}",
                f"--data-dir={data / 'pubsub'}",
                "--quiet",
            ],
            ports["pubsub"],
            f"http://{HOST}:{ports['pubsub']}/",
        ),
        _Launch(
            "bigquery",
            [
                str(bq_python),
                str(LAUNCHER),
                "--extension-dir",
                str(data / "duckdb-extensions"),
                "start",
                "--rest-host",
                HOST,
                "--rest-port",
                str(ports["bigquery"]),
                "--grpc-host",
                HOST,
                "--grpc-port",
                str(ports["bigquery_grpc"]),
                "--project",
                project,
                "--data-dir",
                str(data / "bigquery"),
                "--log-format",
                "json",
                "--log-level",
                "info",
            ],
            ports["bigquery"],
            f"http://{HOST}:{ports['bigquery']}/readyz",
        ),
        _Launch(
            "storage",
            [
                gcs,
                "--data-dir",
                str(data / "storage"),
                "start",
                "--host",
                HOST,
                "--port",
                str(ports["storage"]),
                "--default-bucket",
                bucket,
            ],
            ports["storage"],
            f"http://{HOST}:{ports['storage']}/",
        ),
    ]
    return launches, ports


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
        _write_atomic(env_file(state), render_env(current.endpoints))
        return current.endpoints
    if current.endpoints is not None:  # stale or half-dead: clear it first
        down(state)

    launches, ports = _launches(state, project, bucket)
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
        _write_atomic(state_file(state), endpoints.model_dump_json(indent=2))
        _wait_healthy(launches, started, services, timeout)
    except BaseException:
        for proc in started.values():
            procs.stop_group(proc.pid, timeout=5, child=proc)
        state_file(state).unlink(missing_ok=True)
        raise
    endpoints.startup_seconds = round(time.monotonic() - began, 2)
    _write_atomic(state_file(state), endpoints.model_dump_json(indent=2))
    _write_atomic(env_file(state), render_env(endpoints))
    return endpoints


def _wait_healthy(
    launches: list[_Launch],
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


def endpoints_json(endpoints: StackEndpoints) -> str:
    return json.dumps(endpoints.model_dump(), indent=2)
