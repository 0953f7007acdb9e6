"""`firewatch vertex loop`: the CustomJob running `firewatch model loop` and the Cloud Scheduler job that
creates it on schedule, built offline and checked field by field; the container's args parse with the
real `firewatch` parser into the loop's config; the gcloud command uses only documented flags."""

from __future__ import annotations

import base64
import shutil

import pytest
from google.cloud.aiplatform_v1.types import AcceleratorType, CustomJob

from firewatch.cli.dispatch import build_parser, main
from model.cli import build_config, flag_values
from model.config import LoopConfig
from vertex import jobs, loop_job
from vertex.config import VertexLoopConfig

IMAGE = "europe-docker.pkg.dev/p1/fw/firewatch:gpu"
SA = "firewatch-loop@p1.iam.gserviceaccount.com"
REQUIRED = {"project": "p1", "image": IMAGE, "registry": "gs://b/registry", "data": "gs://b/tfrecords",
            "work": "gs://b/loop", "service_account": SA}  # fmt: skip


def test_the_custom_job_runs_firewatch_model_loop_in_the_training_image() -> None:
    config = VertexLoopConfig(**REQUIRED, loop_args=["--min-verdicts=50", "--epochs=2"])
    job = loop_job.loop_custom_job(config)
    assert isinstance(job, CustomJob) and job.display_name == "firewatch-loop"
    (pool,) = job.job_spec.worker_pool_specs
    machine = pool.machine_spec
    assert (machine.machine_type, machine.accelerator_type, machine.accelerator_count) == (
        "g2-standard-8", AcceleratorType.NVIDIA_L4, 1)  # fmt: skip
    assert pool.replica_count == 1 and pool.disk_spec.boot_disk_size_gb == 100
    assert pool.container_spec.image_uri == IMAGE and list(pool.container_spec.command) == ["firewatch"]
    assert job.job_spec.service_account == SA
    assert job.job_spec.base_output_directory.output_uri_prefix == "gs://b/loop/vertex"

    args = build_parser().parse_args(list(pool.container_spec.args))
    assert args.func.__module__ == "model.cli" and args.func.__name__ == "_loop"
    loop = build_config(LoopConfig, flag_values(args, LoopConfig))
    assert (loop.registry, loop.data, loop.work, loop.project) == ("gs://b/registry", "gs://b/tfrecords",
                                                                   "gs://b/loop", "p1")  # fmt: skip
    assert (loop.min_verdicts, loop.epochs) == (50, 2)
    assert CustomJob.from_json(jobs.to_json(job)) == job  # the printed body is the REST body


def test_the_scheduler_job_posts_that_custom_job_on_the_cron_schedule() -> None:
    config = VertexLoopConfig(**REQUIRED, schedule="30 2 * * *", time_zone="Europe/Lisbon", region="europe-west1",
                              scheduler_service_account="scheduler@p1.iam.gserviceaccount.com")  # fmt: skip
    job = loop_job.scheduler_job(config)
    assert job["name"] == "projects/p1/locations/europe-west1/jobs/firewatch-loop"
    assert (job["schedule"], job["timeZone"]) == ("30 2 * * *", "Europe/Lisbon")
    target = job["httpTarget"]
    assert (
        target["uri"]
        == "https://europe-west1-aiplatform.googleapis.com/v1/projects/p1/locations/europe-west1/customJobs"
    )
    assert target["httpMethod"] == "POST" and target["headers"] == {"Content-Type": "application/json"}
    assert target["oauthToken"] == {"serviceAccountEmail": "scheduler@p1.iam.gserviceaccount.com",
                                    "scope": "https://www.googleapis.com/auth/cloud-platform"}  # fmt: skip
    assert CustomJob.from_json(base64.b64decode(target["body"])) == loop_job.loop_custom_job(config)
    assert loop_job.scheduler_job(VertexLoopConfig(**REQUIRED))["httpTarget"]["oauthToken"]["serviceAccountEmail"] == SA


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"schedule": "every monday"}, "not a cron schedule"),
        ({"registry": "/local/registry"}, "must be a gs:// path"),
        ({"machine_type": "n1-standard-8"}, r"NVIDIA_L4 runs on g2-\* machines"),
        ({"display_name": "firewatch loop"}, "names the Cloud Scheduler job"),
    ],
)
def test_bad_options_are_refused(change: dict, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        VertexLoopConfig(**{**REQUIRED, **change})


def test_the_dry_run_prints_the_specs_and_writes_the_body_file(tmp_path, capsys) -> None:
    body_file = tmp_path / "body.json"
    argv = ["vertex", "loop", "--project", "p1", "--image", IMAGE, "--registry", "gs://b/registry", "--data",
            "gs://b/tfrecords", "--work", "gs://b/loop", "--service-account", SA, "--schedule", "0 4 * * 0",
            "--loop-arg=--min-verdicts=30", "--body-file", str(body_file), "--dry-run"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    job = CustomJob.from_json(body_file.read_text())
    assert list(job.job_spec.worker_pool_specs[0].container_spec.args)[-1] == "--min-verdicts=30"
    assert "gcloud scheduler jobs create http firewatch-loop " in out and "'--schedule=0 4 * * 0'" in out
    assert f"--message-body-from-file={body_file}" in out
    assert out.rstrip().endswith("# dry run: nothing submitted (add --submit to run the loop once now)")
    assert main([*argv, "--submit"]) == 2  # --dry-run and --submit exclude each other
    assert "--dry-run and --submit exclude each other" in capsys.readouterr().err
    at = argv.index("--service-account")
    with pytest.raises(SystemExit) as exited:  # the job needs an identity that may read feedback, write the registry
        main(argv[:at] + argv[at + 2 :])
    assert exited.value.code == 2 and "--service-account" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("gcloud") is None, reason="the gcloud CLI is not installed")
def test_the_gcloud_command_uses_only_documented_flags() -> None:
    from tests.deploy.test_deploy import documented_flags

    command = loop_job.scheduler_command(VertexLoopConfig(**REQUIRED))
    assert command[:6] == ["gcloud", "scheduler", "jobs", "create", "http", "firewatch-loop"]
    flags = dict(word.split("=", 1) for word in command if word.startswith("--"))
    assert set(flags) - documented_flags(("scheduler", "jobs", "create", "http")) == set()
    assert len(flags) == len(command) - 6  # every word after the job id is a --flag=value
    assert flags["--schedule"] == "0 3 * * 1" and flags["--message-body-from-file"] == "loop_custom_job.json"
    assert flags["--http-method"] == "post" and flags["--oauth-service-account-email"] == SA
