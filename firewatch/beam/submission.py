"""What a job's main does right after `pipeline.run()` on a remote runner (Dataflow).

Under the Dataflow flex-template launcher the main runs in template mode: Beam writes the
job graph to `--template_location` and returns a `DataflowPipelineResult` with no job
(`result.job_id()` raises, metrics cannot be queried, waiting is meaningless), and Google's
docs say a template's main must not wait for the job. A direct `--runner DataflowRunner`
submission does have a job. Both return at once: these helpers only describe the outcome.
"""

from __future__ import annotations

from typing import Any

from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions, StandardOptions


def is_local(options: PipelineOptions) -> bool:
    """The job runs in this process (a Direct/FnApi runner), so the caller waits for it."""
    runner = options.view_as(StandardOptions).runner
    if runner is None:
        return True
    name = runner if isinstance(runner, str) else type(runner).__name__
    return "Direct" in name or "FnApi" in name


def submitted_job_id(result: Any) -> str | None:
    """The remote job's id, or None when there is none (template mode: the launcher submits it)."""
    if not getattr(result, "has_job", False):
        return None
    return result.job_id()


def job_page(project: str | None, region: str | None, job_id: str) -> str:
    return f"https://console.cloud.google.com/dataflow/jobs/{region}/{job_id}?project={project}"


def describe_submission(job: str, result: Any, options: PipelineOptions) -> str:
    """One line for the log: where the template went, or which job was submitted and where to watch it."""
    cloud = options.view_as(GoogleCloudOptions)
    runner = options.view_as(StandardOptions).runner
    job_id = submitted_job_id(result)
    if job_id:
        return (
            f"submitted {job} job {job_id} ({runner}); not waiting for it. "
            f"Watch it at {job_page(cloud.project, cloud.region, job_id)}"
        )
    if cloud.template_location:
        return f"{job} job graph written to {cloud.template_location} (template mode: the launcher submits it)"
    return f"{job} pipeline handed to {runner}; it reported no job id"
