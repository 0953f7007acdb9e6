"""The real entry files (streaming/main.py, batch/main.py) run the way the flex-template launcher
runs them, offline: DataflowRunner in template mode (`--template_location`), staging on the GCS
emulator. Beam 2.77 then returns a `DataflowPipelineResult` with no job (see
`DataflowApplicationClient.create_job`), so a main that waits, reads metrics or asks for the job
id fails after the graph was written. Nothing is sent to Google Cloud."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.stack


def model_dir(tmp_path: Path) -> Path:
    """Only the model's metadata is read while the graph is built (workers load the model)."""
    folder = tmp_path / "model"
    folder.mkdir()
    meta = {
        "model_version": "v-test",
        "class_names": ["no_fire", "fire"],
        "image_size": 96,
        "threshold": 0.5,
        "backbone": "test",
        "data_description": "metadata only",
        "created_at": "2026-01-01T00:00:00Z",
    }
    (folder / "firewatch_model.json").write_text(json.dumps(meta))
    return folder


def launch(entry: str, bucket: str, project: str, params: list[str]) -> tuple[subprocess.CompletedProcess, str]:
    """Run `python ENTRY` as the launcher does: its own options, then the parameters as --name=value."""
    template = f"gs://{bucket}/templates/{Path(entry).parent.name}.json"
    launcher_args = [
        "--runner=DataflowRunner",
        f"--project={project}",
        "--region=europe-west1",
        f"--template_location={template}",
        f"--staging_location=gs://{bucket}/staging",
        f"--temp_location=gs://{bucket}/tmp",
        # no --setup_file: the image sets no FLEX_TEMPLATE_PYTHON_SETUP_FILE (the package is installed in it)
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, str(REPO / entry), *launcher_args, *params],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc, template


def read_blob(uri: str) -> bytes:
    from google.cloud import storage

    bucket, name = uri.removeprefix("gs://").split("/", 1)
    return storage.Client().bucket(bucket).blob(name).download_as_bytes()


def written_job(template: str, bucket: str) -> tuple[dict, set[str]]:
    """The template's job description and the (leaf) transform names of the pipeline it staged."""
    from apache_beam.portability.api import beam_runner_api_pb2

    job = json.loads(read_blob(template))
    folder = job["environment"]["tempStoragePrefix"].rsplit("/", 1)[1]  # the job's staging folder too
    proto = beam_runner_api_pb2.Pipeline.FromString(read_blob(f"gs://{bucket}/staging/{folder}/pipeline.pb"))
    return job, {t.unique_name.rsplit("/", 1)[-1] for t in proto.components.transforms.values()}


@pytest.fixture
def bucket(local_stack):
    from google.cloud import storage

    name = f"flex-{os.getpid()}"
    client = storage.Client(project=local_stack.project)
    if client.lookup_bucket(name) is None:
        client.create_bucket(name)
    return name


def test_streaming_main_returns_after_writing_the_template(local_stack, bucket, tmp_path):
    params = [f"--model={model_dir(tmp_path)}", "--explain=true", "--confirm_k=2", "--allowed_buckets=a,b"]
    proc, template = launch("streaming/main.py", bucket, local_stack.project, params)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"job graph written to {template}" in proc.stdout
    job, transforms = written_job(template, bucket)
    assert job["type"] == "JOB_TYPE_STREAMING"
    assert {"ReadFrames", "Alerts", "PublishAlerts", "Explanations", "PublishDeadLetters"} <= transforms


def test_batch_main_returns_without_waiting_or_reading_metrics(local_stack, bucket, tmp_path):
    from PIL import Image

    images = tmp_path / "images" / "cam-1"
    images.mkdir(parents=True)
    Image.new("RGB", (32, 32)).save(images / "frame.jpg")
    params = [
        f"--model={model_dir(tmp_path)}",
        f"--input={images.parent}",
        f"--output=gs://{bucket}/out",
        "--explain=false",
        "--output_format=parquet",
    ]
    proc, template = launch("batch/main.py", bucket, local_stack.project, params)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"job graph written to {template}" in proc.stdout
    assert "batch summary" not in proc.stdout  # no wait, no metrics: the job has not run
    job, transforms = written_job(template, bucket)
    assert job["type"] == "JOB_TYPE_BATCH"
    assert {"Read", "Score", "Write_predictions"} <= transforms and "Explanations" not in transforms
