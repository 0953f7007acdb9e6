"""`firewatch vertex loop`: the retraining loop (`firewatch model loop`) as a scheduled Vertex AI CustomJob.

* `loop_custom_job`: a CustomJob (aiplatform's own type) running `firewatch model loop` in the project's
  training image on one worker (`vertex.jobs.worker_pool`), as the given service account; the
  registry, the base TFRecords and the work folder are on gs://.
* `scheduler_job`: a Cloud Scheduler HTTP job (the `cloudscheduler.v1` Job resource: name, schedule,
  timeZone, httpTarget{uri, httpMethod, headers, body, oauthToken}) that POSTs that CustomJob, as its
  REST body, to Vertex AI's `customJobs.create` on a cron schedule, with an OAuth token of a service
  account. Vertex AI's own `Schedule` (aiplatform_v1) only schedules pipeline runs (and notebooks),
  not a CustomJob, and building a pipeline spec by hand without the KFP compiler could not be checked
  offline; a scheduled `customJobs.create` call runs the exact job printed here.
* `scheduler_command`: the `gcloud scheduler jobs create http` command creating that job (its body
  read from `body_file`, written by the command).

Building the specs needs no network; `--submit` creates the CustomJob once now (the schedule is made
by running the printed gcloud command).
"""

from __future__ import annotations

import base64
from typing import Any

from vertex.config import VertexLoopConfig
from vertex.jobs import parent, to_json, worker_pool

SCOPE = "https://www.googleapis.com/auth/cloud-platform"


def display_name(config: VertexLoopConfig) -> str:
    return config.display_name or "firewatch-loop"


def loop_args(config: VertexLoopConfig) -> list[str]:
    """`firewatch model loop` flags: the gs:// folders, the project (feedback and model_versions tables), extras."""
    return ["model", "loop", f"--registry={config.registry}", f"--data={config.data}", f"--work={config.work}",
            f"--project={config.project}", *config.loop_args]  # fmt: skip


def loop_custom_job(config: VertexLoopConfig):
    from google.cloud.aiplatform_v1.types import CustomJob, CustomJobSpec, GcsDestination

    spec = CustomJobSpec(
        worker_pool_specs=[worker_pool(config, loop_args(config))],
        base_output_directory=GcsDestination(output_uri_prefix=f"{config.work}/vertex"),
        service_account=config.service_account,
    )
    return CustomJob(display_name=display_name(config), job_spec=spec)


def create_uri(config: VertexLoopConfig) -> str:
    """Vertex AI's REST `projects.locations.customJobs.create` for the job's region."""
    return f"https://{config.region}-aiplatform.googleapis.com/v1/{parent(config.project, config.region)}/customJobs"


def scheduler_location(config: VertexLoopConfig) -> str:
    return config.scheduler_location or config.region


def scheduler_service_account(config: VertexLoopConfig) -> str:
    return config.scheduler_service_account or config.service_account


def scheduler_job(config: VertexLoopConfig) -> dict[str, Any]:
    """The Cloud Scheduler v1 Job resource (REST JSON) that creates the loop's CustomJob on schedule."""
    body = to_json(loop_custom_job(config)).encode()
    name = f"projects/{config.project}/locations/{scheduler_location(config)}/jobs/{display_name(config)}"
    return {
        "name": name,
        "description": "firewatch model loop: fine-tune current on new verdicts, register, shadow (never promotes)",
        "schedule": config.schedule,
        "timeZone": config.time_zone,
        "httpTarget": {
            "uri": create_uri(config),
            "httpMethod": "POST",
            "headers": {"Content-Type": "application/json"},
            "body": base64.b64encode(body).decode(),
            "oauthToken": {"serviceAccountEmail": scheduler_service_account(config), "scope": SCOPE},
        },
    }


def scheduler_command(config: VertexLoopConfig) -> list[str]:
    """`gcloud scheduler jobs create http` for `scheduler_job` (the body comes from `config.body_file`)."""
    job = scheduler_job(config)
    return [
        "gcloud", "scheduler", "jobs", "create", "http", display_name(config),
        f"--project={config.project}",
        f"--location={scheduler_location(config)}",
        f"--schedule={config.schedule}",
        f"--time-zone={config.time_zone}",
        f"--uri={create_uri(config)}",
        "--http-method=post",
        "--headers=Content-Type=application/json",
        f"--message-body-from-file={config.body_file}",
        f"--oauth-service-account-email={scheduler_service_account(config)}",
        f"--oauth-token-scope={SCOPE}",
        f"--description={job['description']}",
    ]  # fmt: skip


def submit_loop_job(config: VertexLoopConfig) -> str:
    """Create the CustomJob once, now; returns its name."""
    from vertex.jobs import _client

    job = _client("JobServiceClient", config.region).create_custom_job(
        parent=parent(config.project, config.region), custom_job=loop_custom_job(config)
    )
    return job.name
