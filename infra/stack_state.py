"""The local stack's recorded state: endpoints and process groups (`stack.json`), the sourceable
`stack.env`, and where they live. Pure bookkeeping: starting and stopping is `infra.stack`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pydantic import BaseModel

from firewatch.cloud.stack_env import DEFAULT_STATE_DIR
from firewatch.errors import UserError
from infra.resources import ResourceNames

DEFAULT_PROJECT = ResourceNames().project
DEFAULT_BUCKET = ResourceNames().frames_bucket
HOST = "127.0.0.1"
SERVICES = ("pubsub", "bigquery", "storage")

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


def resolve_state_dir(explicit: Path | str | None = None) -> Path:
    """The state dir: `explicit`, else $FIREWATCH_STATE_DIR, else `.firewatch` (see firewatch.cloud.stack_env)."""
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("FIREWATCH_STATE_DIR", str(DEFAULT_STATE_DIR)))


def state_file(state_dir: Path) -> Path:
    return state_dir / "stack.json"


def env_file(state_dir: Path) -> Path:
    return state_dir / "stack.env"


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


def write_atomic(path: Path, text: str) -> None:
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
