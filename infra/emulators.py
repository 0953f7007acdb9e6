"""How each emulator of the local stack is started: its command line, port and health check.

- Pub/Sub: `gcloud beta emulators pubsub start` (gcloud SDK + Java); health `GET /`.
- BigQuery: `bqemulator` in its own venv (`.venv-bq`), started through `infra/bq_emulator_launcher.py`
  so DuckDB's spatial extension comes from a wheel (offline); health `GET /readyz`.
- GCS: `gcp-storage-emulator` from the project venv; health `GET /`.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from infra import procs
from infra.stack_state import HOST, StackError

REPO_ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = Path(__file__).resolve().parent / "bq_emulator_launcher.py"
PORT_KEYS = ("pubsub", "bigquery", "bigquery_grpc", "storage")


@dataclass(frozen=True)
class Launch:
    name: str
    argv: list[str]
    port: int
    health_url: str


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


def free_ports() -> dict[str, int]:
    ports: dict[str, int] = {}
    for key in PORT_KEYS:
        ports[key] = procs.free_port(HOST, exclude=set(ports.values()))
    return ports


def pubsub(data: Path, port: int, project: str) -> Launch:
    gcloud = _which("gcloud", "Install the Google Cloud SDK with the `beta` and `pubsub-emulator` components.")
    _which("java", "The Pub/Sub emulator needs Java 17+ (e.g. apt-get install openjdk-17-jre-headless).")
    argv = [gcloud, "beta", "emulators", "pubsub", "start", f"--host-port={HOST}:{port}", f"--project={project}"]
    argv += [f"--data-dir={data / 'pubsub'}", "--quiet"]
    return Launch("pubsub", argv, port, f"http://{HOST}:{port}/")


def bigquery(data: Path, port: int, grpc_port: int, project: str) -> Launch:
    argv = [str(bq_emulator_python()), str(LAUNCHER), "--extension-dir", str(data / "duckdb-extensions"), "start"]
    argv += ["--rest-host", HOST, "--rest-port", str(port), "--grpc-host", HOST, "--grpc-port", str(grpc_port)]
    argv += ["--project", project, "--data-dir", str(data / "bigquery"), "--log-format", "json", "--log-level", "info"]
    return Launch("bigquery", argv, port, f"http://{HOST}:{port}/readyz")


def storage(data: Path, port: int, bucket: str) -> Launch:
    hint = "It is part of the project venv (requirements.txt); run `make setup`."
    gcs = _which("gcp-storage-emulator", hint, search=str(Path(sys.executable).parent))
    argv = [gcs, "--data-dir", str(data / "storage"), "start", "--host", HOST, "--port", str(port)]
    return Launch("storage", [*argv, "--default-bucket", bucket], port, f"http://{HOST}:{port}/")


def launches(state_dir: Path, project: str, bucket: str, ports: dict[str, int]) -> list[Launch]:
    """The three emulators' launches, with their data folders created under the state dir."""
    data = state_dir / "data"
    for sub in ("pubsub", "bigquery", "storage"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    return [
        pubsub(data, ports["pubsub"], project),
        bigquery(data, ports["bigquery"], ports["bigquery_grpc"], project),
        storage(data, ports["storage"], bucket),
    ]


def relaunch(name: str, state_dir: Path, project: str, bucket: str, ports: dict[str, int]) -> Launch:
    """One emulator's launch on the ports it had (to restart it, e.g. in a fault test)."""
    return {launch.name: launch for launch in launches(state_dir, project, bucket, ports)}[name]
