"""Client factory (firewatch.cloud.clients): emulator vs real configuration, Beam auth, gcloud CLI via stack.env."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from firewatch.cloud import clients as gcp
from firewatch.errors import UserError
from infra.resources import ResourceNames


def _clear(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (*gcp.EMULATOR_VARS, *gcp.PROJECT_VARS):
        monkeypatch.delenv(var, raising=False)


def test_project_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv("CLOUDSDK_CORE_PROJECT", "from-gcloud")
    assert gcp.project_id() == "from-gcloud"
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-google")
    assert gcp.project_id() == "from-google"
    monkeypatch.setenv("FIREWATCH_PROJECT", "from-firewatch")
    assert gcp.project_id() == "from-firewatch"
    assert gcp.project_id("explicit") == "explicit"


def test_no_project_on_emulators_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:1")
    with pytest.raises(UserError, match="--project"):
        gcp.project_id()


def test_clients_follow_emulator_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    from google.auth.credentials import AnonymousCredentials

    _clear(monkeypatch)
    assert not gcp.using_emulators()
    assert gcp.prepare_beam_offline_auth() is False
    monkeypatch.setenv("FIREWATCH_BIGQUERY_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:8")
    monkeypatch.setenv("FIREWATCH_PROJECT", "p-local")
    assert gcp.using_emulators()
    bq = gcp.bigquery_client()
    assert bq.project == "p-local" and bq._connection.API_BASE_URL == "http://127.0.0.1:9"
    assert isinstance(bq._credentials, AnonymousCredentials)
    gcs = gcp.storage_client()
    assert gcs._connection.API_BASE_URL == "http://127.0.0.1:8"
    assert isinstance(gcs._credentials, AnonymousCredentials)


@pytest.mark.stack
def test_beam_gcs_filesystem_is_fast_and_works_on_the_emulator(gcp_resources: ResourceNames) -> None:
    from apache_beam.io.filesystems import FileSystems

    assert gcp.prepare_beam_offline_auth() is True
    began = time.monotonic()
    uri = f"{gcp_resources.bucket_uri()}/frames/cam-1/f1.bin"
    with FileSystems.create(uri, mime_type="application/octet-stream") as handle:
        handle.write(b"\x00\x01frame")
    with FileSystems.open(uri) as handle:
        assert handle.read() == b"\x00\x01frame"
    assert time.monotonic() - began < 10  # no 20 s credential retries
    blob = gcp.storage_client().bucket(gcp_resources.frames_bucket).blob("frames/cam-1/f1.bin")
    assert blob.download_as_bytes() == b"\x00\x01frame"


@pytest.mark.stack
def test_gcloud_cli_publishes_through_stack_env(local_stack, gcp_resources: ResourceNames) -> None:
    env_file = Path(os.environ["FIREWATCH_STATE_DIR"]) / "stack.env"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDSDK_", "PUBSUB_", "STORAGE_"))}
    script = (
        f". {env_file}; gcloud pubsub topics publish {gcp_resources.frames_topic} "
        "--message=hello --attribute=camera_id=cam-9 --format=json"
    )
    published = subprocess.run(["bash", "-c", script], env=clean, capture_output=True, text=True, timeout=120)
    assert published.returncode == 0, published.stderr
    assert json.loads(published.stdout)["messageIds"]

    subscriber = gcp.subscriber_client()
    try:
        response = subscriber.pull(subscription=gcp_resources.subscription_path(), max_messages=5, timeout=30)
    finally:
        subscriber.close()
    messages = [m.message for m in response.received_messages]
    assert [(m.data, m.attributes["camera_id"]) for m in messages] == [(b"hello", "cam-9")]
