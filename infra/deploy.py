"""Deploying Firewatch with gcloud: the commands that build, launch, update and drain the Dataflow
flex templates and deploy the console (`firewatch deploy`, `firewatch.cli.deploy`, is its CLI).

Every command is built as a list of words; `execute` prints each and, unless a dry run, runs it
(nothing here reaches Google Cloud in tests):

* `build`  - `gcloud builds submit` (infra/cloudbuild.yaml: both image targets, CPU or `--gpu`),
             then `gcloud dataflow flex-template build` per job (--image; the entry file is
             baked into each image's target, since --image and --env are exclusive there).
* `run`    - `gcloud dataflow flex-template run` with Streaming Engine, the workers' service
             account, labels, max workers, staging/temp locations, and for `--gpu` the G2
             machine type, boot disk and accelerator an NVIDIA L4 needs.
* `update` - the same run with `--update` on the same job name (e.g. a new `--model`).
* `drain`  - `gcloud dataflow jobs drain` (a streaming job finishes what it has read).
* `console` - the operator console on Cloud Run: `gcloud builds submit` (infra/cloudbuild-console.yaml,
             the Dockerfile's `console` target), then `gcloud beta run deploy` with its own service
             account (infra/terraform: `firewatch-console@`), behind Identity-Aware Proxy (`--iap`,
             beta) or with operator tokens from Secret Manager; one instance with CPU always
             allocated (the live list is fed by one subscription pulled in the background).

Resource names follow infra/terraform: buckets `<project>-firewatch-{dataflow,models,frames,builds}`,
Artifact Registry repository `firewatch`, service accounts `firewatch-{workers,builder,console}@...`.
Builds run as `firewatch-builder@` and keep their uploaded source and log in the builds bucket, so
the deploying account (`firewatch-launcher@`, see docs/iam.md) needs neither the
`<project>_cloudbuild` bucket nor project Viewer to stream the build's log.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from infra.resources import INFRA_DIR, project_bucket

REPO = INFRA_DIR.parent
JOBS = ("streaming", "batch")
TF_VERSION = "2.21.0"
# NVIDIA L4 on Dataflow: a G2 machine type, and room on the boot disk for the CUDA image.
GPU_ACCELERATOR = "type:nvidia-l4;count:1"
GPU_MACHINE_TYPE = "g2-standard-4"
GPU_DISK_GB = 100


class DeployConfig(BaseModel):
    """Where Firewatch is deployed; names default to those infra/terraform creates."""

    model_config = ConfigDict(frozen=True)

    project: str = Field(..., description="Google Cloud project id")
    region: str = Field("europe-west1", description="Dataflow, Cloud Build and Artifact Registry region")
    repository: str = Field("firewatch", description="Artifact Registry Docker repository")
    tag: str = Field("latest", description="image tag (use a release or git sha)")
    gpu: bool = Field(False, description="GPU images and workers (NVIDIA L4 on g2-standard-4)")
    bucket: str | None = Field(
        None, description="templates/staging/temp bucket (default: <project>-firewatch-dataflow)"
    )

    @property
    def dataflow_bucket(self) -> str:
        return self.bucket or project_bucket(self.project, "dataflow_bucket")

    @property
    def variant(self) -> str:
        return "-gpu" if self.gpu else ""

    @property
    def registry(self) -> str:
        """The Artifact Registry Docker repository's path."""
        return f"{self.region}-docker.pkg.dev/{self.project}/{self.repository}"

    def image(self, job: str) -> str:
        return f"{self.registry}/{job}{self.variant}:{self.tag}"

    def template(self, job: str) -> str:
        return f"gs://{self.dataflow_bucket}/templates/{job}{self.variant}.json"

    @property
    def builds_bucket(self) -> str:
        """Cloud Build's uploaded sources and logs (infra/terraform: `<project>-firewatch-builds`)."""
        return project_bucket(self.project, "builds_bucket")

    def service_account(self, name: str) -> str:
        """The email of one of infra/terraform's accounts, e.g. service_account("workers")."""
        return f"firewatch-{name}@{self.project}.iam.gserviceaccount.com"

    @property
    def workers_service_account(self) -> str:
        return self.service_account("workers")

    @property
    def builder_service_account(self) -> str:
        """Cloud Build's `--service-account`: the full resource name the Builds API takes."""
        return f"projects/{self.project}/serviceAccounts/{self.service_account('builder')}"


def cloud_build(cfg: DeployConfig, config_file: str, substitutions: dict[str, str]) -> list[str]:
    """`gcloud builds submit` of the repository with one of infra/'s Cloud Build configs, as the
    builder account, with the source and the log in the builds bucket (the config logs GCS_ONLY)."""
    return [
        "gcloud",
        "builds",
        "submit",
        str(REPO),
        f"--project={cfg.project}",
        f"--region={cfg.region}",
        f"--config={INFRA_DIR / config_file}",
        f"--service-account={cfg.builder_service_account}",
        f"--gcs-source-staging-dir=gs://{cfg.builds_bucket}/source",
        f"--gcs-log-dir=gs://{cfg.builds_bucket}/logs",
        "--substitutions=" + ",".join(f"{k}={v}" for k, v in substitutions.items()),
    ]


def build_commands(cfg: DeployConfig, jobs: Sequence[str] = JOBS) -> list[list[str]]:
    subs = {
        "_REGISTRY": cfg.registry,
        "_TAG": cfg.tag,
        "_VARIANT": cfg.variant,
        "_TF_EXTRA": "[and-cuda]" if cfg.gpu else "",
        "_TF_VERSION": TF_VERSION,
    }
    commands = [cloud_build(cfg, "cloudbuild.yaml", subs)]
    for job in jobs:
        commands.append(
            [
                "gcloud",
                "dataflow",
                "flex-template",
                "build",
                cfg.template(job),
                f"--project={cfg.project}",
                f"--image={cfg.image(job)}",
                "--sdk-language=PYTHON",
                f"--metadata-file={INFRA_DIR / 'flex_templates' / f'{job}-metadata.json'}",
            ]
        )
    return commands


class RunConfig(BaseModel):
    """One launch of a template."""

    model_config = ConfigDict(frozen=True)

    job: str = Field("streaming", pattern="^(streaming|batch)$")
    job_name: str | None = Field(None, description="Dataflow job name (default: firewatch-<job>)")
    max_workers: int = Field(5, ge=1, description="autoscaling ceiling")
    service_account: str | None = Field(None, description="worker service account (default: firewatch-workers@)")
    labels: tuple[str, ...] = Field(("app=firewatch",), description="job labels, KEY=VALUE")
    parameters: tuple[str, ...] = Field((), description="template parameters, NAME=VALUE")
    update: bool = False

    @property
    def name(self) -> str:
        return self.job_name or f"firewatch-{self.job}"


def run_command(cfg: DeployConfig, run: RunConfig) -> list[str]:
    params = list(run.parameters)
    names = [p.split("=", 1)[0] for p in params]
    params.append(f"sdk_container_image={cfg.image(run.job)}")  # workers run the launcher's image
    if cfg.gpu and "worker_accelerator" not in names:
        params.append(f"worker_accelerator={GPU_ACCELERATOR}")
    labels = [*run.labels, f"job={run.job}", f"variant={'gpu' if cfg.gpu else 'cpu'}"]
    command = [
        "gcloud",
        "dataflow",
        "flex-template",
        "run",
        run.name,
        f"--project={cfg.project}",
        f"--region={cfg.region}",
        f"--template-file-gcs-location={cfg.template(run.job)}",
        f"--service-account-email={run.service_account or cfg.workers_service_account}",
        f"--staging-location=gs://{cfg.dataflow_bucket}/staging",
        f"--temp-location=gs://{cfg.dataflow_bucket}/temp",
        f"--max-workers={run.max_workers}",
        "--additional-user-labels=" + ",".join(labels),
        # --parameters is a gcloud dict: values may hold ',' or ';', so use '~' as the separator.
        "--parameters=^~^" + "~".join(params),
    ]
    if run.job == "streaming":
        command.append("--enable-streaming-engine")
    if cfg.gpu:
        command += [
            f"--worker-machine-type={GPU_MACHINE_TYPE}",
            f"--additional-pipeline-options=disk_size_gb={GPU_DISK_GB}",
        ]
    if run.update:
        command.append("--update")
    return command


CONSOLE_SERVICE = "firewatch-console"
CONSOLE_TOKENS_SECRET = "console-tokens"


class ConsoleDeploy(BaseModel):
    """One deployment of the console on Cloud Run."""

    model_config = ConfigDict(frozen=True)

    identity: str = Field("iap", pattern="^(iap|tokens)$")
    model: str | None = Field(None, description="gs:// model for the upload page")
    iap_audience: str | None = None
    service_account: str | None = None
    tokens_secret: str = CONSOLE_TOKENS_SECRET


def console_commands(cfg: DeployConfig, console: ConsoleDeploy) -> list[list[str]]:
    """Build the console image, then deploy it (names as infra/terraform creates them)."""
    build = cloud_build(cfg, "cloudbuild-console.yaml", {"_REGISTRY": cfg.registry, "_TAG": cfg.tag})
    args = [f"--project={cfg.project}", f"--allowed-buckets={project_bucket(cfg.project)}"]
    if console.model:
        args.append(f"--model={console.model}")
    deploy = [
        "gcloud",
        "beta",
        "run",
        "deploy",
        CONSOLE_SERVICE,
        f"--project={cfg.project}",
        f"--region={cfg.region}",
        f"--image={cfg.registry}/console:{cfg.tag}",
        f"--service-account={console.service_account or cfg.service_account('console')}",
        "--port=8080",
        "--memory=2Gi",
        "--max-instances=1",
        "--min-instances=1",
        "--no-cpu-throttling",
        "--timeout=3600",
    ]
    if console.identity == "iap":
        args.append("--trust-iap")
        if console.iap_audience:
            args.append(f"--iap-audience={console.iap_audience}")
        deploy += ["--iap", "--no-allow-unauthenticated"]
    else:
        deploy += ["--allow-unauthenticated", f"--set-secrets=FIREWATCH_CONSOLE_TOKENS={console.tokens_secret}:latest"]
    # --args is a gcloud list: use '^;^' so a value may hold ','.
    deploy.append("--args=^;^" + ";".join(args))
    return [build, deploy]


def drain_command(cfg: DeployConfig, job_id: str) -> list[str]:
    return ["gcloud", "dataflow", "jobs", "drain", job_id, f"--project={cfg.project}", f"--region={cfg.region}"]


def execute(commands: Sequence[Sequence[str]], dry_run: bool) -> int:
    for command in commands:
        print("$ " + shlex.join(command), flush=True)
        if not dry_run:
            code = subprocess.call(list(command))
            if code:
                return code
    return 0
