"""Pydantic configurations of the Vertex AI commands (`firewatch vertex train|tune|automl|deploy|predict`);
flags map 1:1."""

from __future__ import annotations

import importlib.metadata
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from model.config import local_folder, no_trailing_slash


def _gcs(value: str) -> str:
    value = no_trailing_slash(value)
    if not value.startswith("gs://") or len(value) <= len("gs://"):
        raise ValueError(f"must be a gs:// path (Vertex AI workers read and write Cloud Storage), got {value!r}")
    return value


def _accelerator(value: str) -> str:
    from google.cloud.aiplatform_v1.types import AcceleratorType

    names = [a.name for a in AcceleratorType if a.name != "ACCELERATOR_TYPE_UNSPECIFIED"]
    if value not in names:
        raise ValueError(f"unknown accelerator {value!r}; one of {', '.join(names)}")
    return value


class _Location(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    project: str = Field(min_length=1, description="Google Cloud project")
    region: str = Field("europe-west4", min_length=1, description="Vertex AI region")


class _Vertex(_Location):
    display_name: str | None = Field(None, description="job name (default: firewatch-<job>)")
    service_account: str | None = Field(None, description="service account the job runs as")
    submit: bool = Field(False, description="submit the job (default: print the exact spec and stop)")
    dry_run: bool = Field(False, description="print the spec only (the default; excludes --submit)")


class _Container(_Vertex):
    image: str = Field(min_length=1, description="the project's container image (Dockerfile, GPU build)")
    data: str = Field(description="gs:// TFRecord folder from `firewatch data ingest`")
    machine_type: str = Field("g2-standard-24", min_length=1)
    accelerator_type: str = Field("NVIDIA_L4", description="aiplatform AcceleratorType name")
    accelerator_count: int = Field(2, ge=0, le=16, description="GPUs per worker (>1: MirroredStrategy)")
    boot_disk_gb: int = Field(100, ge=10, le=65536)
    train_args: list[str] = Field(
        default_factory=list,
        description="extra `firewatch train` flag for the job (repeatable), e.g. --train-arg=--epochs=8",
        json_schema_extra={"flag": "train_arg", "repeat": True},
    )

    _d = field_validator("data")(_gcs)
    _a = field_validator("accelerator_type")(_accelerator)


class VertexTrainConfig(_Container):
    """`firewatch vertex train`: `firewatch train` as a Vertex AI CustomJob on GPU workers."""

    output: str = Field(description="gs:// MODEL_DIR for the exported model")

    _o = field_validator("output")(_gcs)


class VertexTuneConfig(_Container):
    """`firewatch vertex tune`: a HyperparameterTuningJob over `firewatch tune`'s search space."""

    output: str = Field(description="gs:// base folder; trial N writes its model to OUTPUT/N/model")
    max_trials: int = Field(20, ge=1, le=1000)
    parallel_trials: int = Field(2, ge=1, le=100)
    max_failed_trials: int = Field(0, ge=0, le=1000, description="0: Vertex AI's default")
    backbones: list[str] = Field(default_factory=list, description="limit the backbones searched")

    _o = field_validator("output")(_gcs)


class VertexAutoMLConfig(_Vertex):
    """`firewatch vertex automl`: an AutoML image-classification baseline on the same labelled images and split."""

    data: str = Field(description="TFRecord folder from `firewatch data ingest` (its manifest: path, label, split)")
    images_uri: str | None = Field(
        None, description="gs:// prefix holding the ingest input ROOT (needed when ingest read a local folder)"
    )
    import_file_uri: str = Field(description="gs:// path the dataset import CSV is uploaded to")
    import_file: str = Field("automl_import.csv", description="local path the import CSV is written to")
    budget_milli_node_hours: int = Field(8000, ge=1000, le=1_000_000)
    model_type: str = Field("CLOUD", description="AutoML image model type (CLOUD, MOBILE_TF_LOW_LATENCY_1, ...)")

    _i = field_validator("import_file_uri")(_gcs)
    _f = field_validator("import_file")(local_folder)

    @field_validator("images_uri")
    @classmethod
    def _images(cls, value: str | None) -> str | None:
        return None if value is None else _gcs(value)


# machine families that take each GPU (Compute Engine attaches these GPUs to these machine series only)
GPU_MACHINES = {
    "NVIDIA_L4": ("g2-",),
    "NVIDIA_TESLA_A100": ("a2-highgpu-", "a2-megagpu-"),
    "NVIDIA_A100_80GB": ("a2-ultragpu-",),
    "NVIDIA_H100_80GB": ("a3-",),
    "NVIDIA_TESLA_T4": ("n1-",),
    "NVIDIA_TESLA_V100": ("n1-",),
    "NVIDIA_TESLA_P100": ("n1-",),
    "NVIDIA_TESLA_P4": ("n1-",),
}

# Model Registry / endpoint ids chosen by the user: a letter, then [a-z0-9-] (at most 63), not ending in "-"
_ID = re.compile(r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# version aliases: the Model Registry's own pattern ("default" is reserved for the default version)
_ALIAS = re.compile(r"^[a-z][a-zA-Z0-9-]{0,126}[a-z0-9]$")


def _installed_tensorflow() -> str:
    try:
        return importlib.metadata.version("tensorflow")
    except importlib.metadata.PackageNotFoundError:  # a client-only install: say it on the command line
        return ""


class VertexDeployConfig(_Vertex):
    """`firewatch vertex deploy`: upload an exported model to the Model Registry and deploy it to an endpoint."""

    model_dir: str = Field(description="gs:// MODEL_DIR of the exported model (`firewatch train --output`)")
    model_id: str = Field("firewatch", description="Model Registry id of the model")
    new_version: bool = Field(
        False, description="upload as a new version of the existing registry model MODEL_ID (default: create it)"
    )
    version_aliases: list[str] = Field(default_factory=list, description="aliases of the uploaded version")
    endpoint: str = Field("firewatch", min_length=1, description="endpoint id (or projects/.../endpoints/ID)")
    create_endpoint: bool = Field(False, description="create the endpoint ENDPOINT first (default: it exists)")
    tf_version: str = Field(
        default_factory=_installed_tensorflow,
        description="TensorFlow version the model was exported with (default: this install's, which trains)",
    )
    serving_image: str | None = Field(
        None,
        description=(
            "serving container for TensorFlow newer than the newest prebuilt one: the official "
            "tensorflow/serving image (-gpu with an accelerator) copied to your Artifact Registry"
        ),
    )
    machine_type: str = Field("n1-standard-4", min_length=1, description="machine type of each replica")
    min_replicas: int = Field(1, ge=1, le=1000, description="replicas always running")
    max_replicas: int = Field(2, ge=1, le=1000, description="replicas under load (autoscaling)")
    accelerator_type: str | None = Field(None, description="aiplatform AcceleratorType name, e.g. NVIDIA_L4")
    accelerator_count: int = Field(0, ge=0, le=8, description="GPUs per replica (needs --accelerator-type)")
    traffic_percent: int = Field(
        100, ge=1, le=100, description="share of the endpoint's traffic for this version (the rest: as it was)"
    )

    _m = field_validator("model_dir")(_gcs)

    @field_validator("accelerator_type")
    @classmethod
    def _gpu(cls, value: str | None) -> str | None:
        return None if value is None else _accelerator(value)

    @field_validator("model_id")
    @classmethod
    def _model_id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"{value!r}: a letter, then lowercase letters, digits and '-' (at most 63)")
        return value

    @field_validator("version_aliases")
    @classmethod
    def _aliases(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if not _ALIAS.match(a) or a == "default"]
        if bad:
            raise ValueError(f"invalid version aliases {bad}: [a-z][a-zA-Z0-9-]{{0,126}}[a-z0-9], not 'default'")
        return value

    @field_validator("tf_version")
    @classmethod
    def _tf(cls, value: str) -> str:
        if not value:
            raise ValueError("TensorFlow is not installed here: give the version the model was exported with")
        if not re.match(r"^\d+\.\d+", value):
            raise ValueError(f"{value!r} is not a TensorFlow version like 2.21.0")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> VertexDeployConfig:
        if self.max_replicas < self.min_replicas:
            raise ValueError(f"max_replicas {self.max_replicas} < min_replicas {self.min_replicas}")
        if bool(self.accelerator_count) != (self.accelerator_type is not None):
            raise ValueError("accelerator_type and accelerator_count > 0 go together")
        families = GPU_MACHINES.get(self.accelerator_type or "", ())
        if families and not self.machine_type.startswith(families):
            raise ValueError(f"{self.accelerator_type} runs on {' or '.join(f + '*' for f in families)} machines")
        if self.create_endpoint and not (_ID.match(self.endpoint) or re.match(r"^[1-9][0-9]{0,8}$", self.endpoint)):
            raise ValueError(f"endpoint id {self.endpoint!r}: a letter then [a-z0-9-] (at most 63), or up to 9 digits")
        if self.create_endpoint and self.traffic_percent != 100:
            raise ValueError("a new endpoint has no other version to share traffic with: traffic_percent must be 100")
        return self


class VertexPredictConfig(_Location):
    """`firewatch vertex predict ENDPOINT INPUT...`: score image files (sent as bytes) or gs:// paths (read by
    the model's paths signature) on a deployed endpoint."""

    endpoint: str = Field(min_length=1, description="endpoint id (or projects/.../endpoints/ID)")
    inputs: list[str] = Field(min_length=1, description="local image files or gs:// paths (not both in one call)")
    dry_run: bool = Field(False, description="print the requests, send nothing")

    @field_validator("inputs")
    @classmethod
    def _one_kind(cls, value: list[str]) -> list[str]:
        remote = {v.startswith("gs://") for v in value}
        if len(remote) > 1:
            raise ValueError("give local files or gs:// paths, not both")
        return value


_CRON_FIELD = re.compile(r"^[0-9*,/\-A-Za-z?LW#]+$")
_SCHEDULER_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,500}$")


class VertexLoopConfig(_Vertex):
    """`firewatch vertex loop`: `firewatch model loop` as a Vertex AI CustomJob in the training image, and the
    Cloud Scheduler job that creates that CustomJob on a cron schedule (`--submit` runs it once now)."""

    image: str = Field(min_length=1, description="the project's container image (Dockerfile, GPU build)")
    registry: str = Field(description="gs:// model registry; its `current` version is fine-tuned")
    data: str = Field(description="gs:// TFRecord folder of the base set (`firewatch data ingest`)")
    work: str = Field(description="gs:// work folder: each run writes WORK/<run id>/feedback and model")
    service_account: str = Field(
        min_length=1, description="service account the job runs as (reads the feedback, writes the registry)"
    )
    machine_type: str = Field("g2-standard-8", min_length=1)
    accelerator_type: str = Field("NVIDIA_L4", description="aiplatform AcceleratorType name")
    accelerator_count: int = Field(1, ge=0, le=8, description="GPUs of the worker (0: CPU only)")
    boot_disk_gb: int = Field(100, ge=10, le=65536)
    loop_args: list[str] = Field(
        default_factory=list,
        description="extra `firewatch model loop` flag for the job (repeatable), e.g. --loop-arg=--min-verdicts=50",
        json_schema_extra={"flag": "loop_arg", "repeat": True},
    )
    schedule: str = Field("0 3 * * 1", description="cron schedule of the loop (Cloud Scheduler syntax)")
    time_zone: str = Field("Etc/UTC", min_length=1, description="tz database name the schedule is read in")
    scheduler_location: str | None = Field(None, description="Cloud Scheduler region (default: --region)")
    scheduler_service_account: str | None = Field(
        None, description="identity Cloud Scheduler calls Vertex AI as (default: --service-account)"
    )
    body_file: str = Field(
        "loop_custom_job.json", description="local file the CustomJob request body is written to (for gcloud)"
    )

    _g = field_validator("registry", "data", "work")(_gcs)
    _a = field_validator("accelerator_type")(_accelerator)
    _b = field_validator("body_file")(local_folder)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
            raise ValueError(f"{value!r} is not a cron schedule of 5 fields (minute hour day month weekday)")
        return " ".join(fields)

    @field_validator("display_name")
    @classmethod
    def _job_id(cls, value: str | None) -> str | None:
        if value is not None and not _SCHEDULER_JOB_ID.match(value):
            raise ValueError(f"{value!r}: letters, digits, '-' and '_' only (it names the Cloud Scheduler job)")
        return value

    @model_validator(mode="after")
    def _gpu_machine(self) -> VertexLoopConfig:
        families = GPU_MACHINES.get(self.accelerator_type, ())
        if self.accelerator_count and families and not self.machine_type.startswith(families):
            raise ValueError(f"{self.accelerator_type} runs on {' or '.join(f + '*' for f in families)} machines")
        return self
