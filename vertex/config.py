"""Pydantic configurations of the Vertex AI jobs (`firewatch vertex train|tune|automl`); flags map 1:1."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from model.config import _local_folder, _no_trailing_slash


def _gcs(value: str) -> str:
    value = _no_trailing_slash(value)
    if not value.startswith("gs://") or len(value) <= len("gs://"):
        raise ValueError(f"must be a gs:// path (Vertex AI workers read and write Cloud Storage), got {value!r}")
    return value


def _accelerator(value: str) -> str:
    from google.cloud.aiplatform_v1.types import AcceleratorType

    names = [a.name for a in AcceleratorType if a.name != "ACCELERATOR_TYPE_UNSPECIFIED"]
    if value not in names:
        raise ValueError(f"unknown accelerator {value!r}; one of {', '.join(names)}")
    return value


class _Vertex(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    project: str = Field(min_length=1, description="Google Cloud project")
    region: str = Field("europe-west4", min_length=1, description="Vertex AI region")
    display_name: str | None = Field(None, description="job name (default: firewatch-<job>)")
    service_account: str | None = Field(None, description="service account the job runs as")
    submit: bool = Field(False, description="submit the job (default: print the exact spec and stop)")


class _Container(_Vertex):
    image: str = Field(min_length=1, description="the project's container image (Dockerfile, GPU build)")
    data: str = Field(description="gs:// TFRecord folder from `firewatch data ingest`")
    machine_type: str = Field("g2-standard-24", min_length=1)
    accelerator_type: str = Field("NVIDIA_L4", description="aiplatform AcceleratorType name")
    accelerator_count: int = Field(2, ge=0, le=16, description="GPUs per worker (>1: MirroredStrategy)")
    boot_disk_gb: int = Field(100, ge=10, le=65536)
    train_args: list[str] = Field(default_factory=list, description="extra `firewatch train` flags, e.g. --epochs=8")

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
    _f = field_validator("import_file")(_local_folder)

    @field_validator("images_uri")
    @classmethod
    def _images(cls, value: str | None) -> str | None:
        return None if value is None else _gcs(value)
