"""Settings every scoring job shares (model, limits, BigQuery tables, explanations).

`StreamingConfig` and `BatchConfig` extend this base, so each job still has exactly one
pydantic model (mapped 1:1 to its flags and flex-template parameters) and the shared fields
are declared once.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from firewatch.core.baselines import BaselineConfig
from firewatch.core.contract import MAX_OBJECT_BYTES, MAX_PIXELS, MessageLimits
from firewatch.core.explain import ExplainConfig
from firewatch.core.period import NightConfig
from firewatch.core.regions import RegionConfig
from infra.resources import ResourceNames, project_bucket

if TYPE_CHECKING:
    from firewatch.beam.baselines import BaselineSource
    from firewatch.beam.masks import MaskSource

# Resource names are declared once (infra/resources.json); the configs' defaults come from there.
DEFAULT_NAMES = ResourceNames()

FRAMES_BUCKET_VAR = "FIREWATCH_FRAMES_BUCKET"


def with_project(args: list[str], project: str | None, *, need_project: bool) -> list[str]:
    """Beam flags plus `--project` when the job needs one, names one, or runs on Dataflow (every
    Beam job: streaming, batch, `data ingest`). The project is resolved once (`firewatch.cloud.clients.project_id`)."""
    if need_project or project or any("DataflowRunner" in a for a in args):
        from firewatch.cloud.clients import project_id

        return [*args, f"--project={project_id(project)}"]
    return list(args)


# Streaming defaults on Dataflow: a frame waits at most this long for a fuller batch (GPU) and its
# row for a fuller insertAll. Off on the local runner: there a processing-time timer fires only
# after the blocking Pub/Sub pull returns (~30 s; shared notes), and bundles are small anyway.
DATAFLOW_BATCH_WAIT_SECONDS = 1.0
DATAFLOW_WRITE_BUFFER_SECONDS = 2.0


class ScoringConfig(BaseModel):
    model_config = ConfigDict(frozen=True, protected_namespaces=())

    model: str = Field(..., description="exported model directory (local path or gs://)")
    project: str | None = Field(None, description="Google Cloud project (default: from the environment)")
    dataset: str = Field(DEFAULT_NAMES.dataset, description="BigQuery dataset")
    predictions_table: str = Field(DEFAULT_NAMES.predictions_table, description="table for one row per frame")
    dead_letters_table: str = Field(DEFAULT_NAMES.dead_letters_table, description="table for rejected inputs")
    explanations_table: str = Field(DEFAULT_NAMES.explanations_table, description="table for explanations")
    allowed_buckets: tuple[str, ...] = Field(
        (), description="buckets gs:// URIs may use (default: the project's frames bucket, see frames_bucket)"
    )
    max_object_bytes: int = Field(MAX_OBJECT_BYTES, gt=0, description="largest image object or file read")
    max_pixels: int = Field(MAX_PIXELS, gt=0, description="largest image (pixels) decoded")
    max_batch_size: int = Field(
        256,
        ge=1,
        le=4096,
        description="most model inputs in one RunInference batch: "
        "the regions of as many frames as fit (one frame at least)",
    )
    max_batch_wait_seconds: float | None = Field(
        None,
        ge=0,
        le=60,
        description="streaming: how long RunInference waits to fill a batch across bundles (Beam's "
        "max_batch_duration_secs); 0: batches within a bundle only; default: 1 on Dataflow, 0 on the "
        "local runner (its timers fire only between pulls there)",
    )
    write_batch_rows: int = Field(
        500, ge=1, le=10000, description="rows per BigQuery insertAll request (and per cross-bundle write batch)"
    )
    write_buffer_seconds: float | None = Field(
        None,
        ge=0,
        le=60,
        description="streaming: how long rows wait to fill a BigQuery write batch across bundles "
        "(GroupIntoBatches, its own stage); 0: written per bundle; default: 2 on Dataflow, 0 on the local runner",
    )
    worker_accelerator: str | None = Field(
        None,
        description="Dataflow GPU workers, e.g. type:nvidia-l4;count:1 (needs a TF-GPU container image)",
    )
    masks_table: str = Field(
        DEFAULT_NAMES.masks_table,
        description="table of the operators' per-camera exclusion masks, blanked before scoring (empty: no masks)",
    )
    mask_refresh_seconds: float = Field(
        30.0, ge=1.0, le=3600.0, description="how often the running job re-reads the masks table"
    )
    explain: bool = Field(True, description="compute explanations for fire frames")
    explanation: ExplainConfig = Field(default_factory=ExplainConfig)
    regions: RegionConfig = Field(default_factory=RegionConfig)
    baselines_table: str = Field(
        DEFAULT_NAMES.baselines_table,
        description="table of the regions' baselines (firewatch baselines update) that raise their thresholds "
        "(empty: the model's threshold everywhere)",
    )
    baselines: BaselineConfig = Field(default_factory=BaselineConfig)
    night: NightConfig = Field(default_factory=NightConfig)

    def message_limit(self) -> int:
        """Largest input message; a job whose messages are not the image itself overrides it."""
        return self.max_object_bytes

    def limits(self) -> MessageLimits:
        return MessageLimits(
            max_message_bytes=self.message_limit(),
            max_object_bytes=self.max_object_bytes,
            max_pixels=self.max_pixels,
            allowed_buckets=self.allowed_buckets or self._default_buckets(),
        )

    def pipeline_args(self, user_args: list[str] | tuple[str, ...], *, need_project: bool) -> list[str]:
        """Beam flags for the job: the user's, plus what this config owns. Its `--project` flag is
        Beam's `--project` too (the config parses it, so it is passed on here), and GPU workers."""
        return with_project(list(user_args) + self.accelerator_args(), self.project, need_project=need_project)

    def accelerator_args(self) -> list[str]:
        """Beam flags for GPU workers: the accelerator (with its driver) and one SDK process per
        worker, so the model is loaded on the GPU once rather than by every process."""
        if not self.worker_accelerator:
            return []
        return [
            f"--dataflow_service_options=worker_accelerator={self.worker_accelerator};install-nvidia-driver",
            "--experiments=no_use_multiple_sdk_containers",
        ]

    def frames_bucket(self) -> str:
        """The project's frames bucket: $FIREWATCH_FRAMES_BUCKET (the local stack sets it), else
        <project>-firewatch-frames, the name Terraform and `firewatch infra apply` give it. Never a
        fixed name: bucket names are global, and a fixed one would belong to someone else."""
        return os.environ.get(FRAMES_BUCKET_VAR) or project_bucket(self.resolved_project())

    def _default_buckets(self) -> tuple[str, ...]:
        from firewatch.errors import UserError

        try:
            return (self.frames_bucket(),)
        except UserError:  # no project (a local file-to-file run): no bucket is allow-listed
            return ()

    def resolved_project(self) -> str:
        from firewatch.cloud.clients import project_id

        return project_id(self.project)

    def reads_tables(self) -> bool:
        """Whether the job reads BigQuery tables while it scores (masks, baselines); a job override
        says when it has no BigQuery."""
        return True

    def reads_masks(self) -> bool:
        """Whether the job applies exclusion masks."""
        return bool(self.masks_table) and self.reads_tables()

    def reads_baselines(self) -> bool:
        """Whether the job raises regions' thresholds above their baselines."""
        return self.baselines.enabled and bool(self.baselines_table) and self.reads_tables()

    def baseline_source(self) -> BaselineSource | None:
        """Where the job reads the regions' baselines (`firewatch.beam.baselines`), or None."""
        if not self.reads_baselines():
            return None
        from firewatch.beam.baselines import BaselineSource

        return BaselineSource(table=self.table(self.baselines_table), refresh_seconds=self.baselines.refresh_seconds)

    def mask_source(self) -> MaskSource | None:
        """Where the job reads its masks (`firewatch.beam.masks.MaskSource`), or None."""
        if not self.reads_masks():
            return None
        from firewatch.beam.masks import MaskSource

        return MaskSource(table=self.table(self.masks_table), refresh_seconds=self.mask_refresh_seconds)

    def batch_wait_seconds(self, *, local: bool) -> float:
        """RunInference's `max_batch_duration_secs` (0: off) for a streaming job on this runner."""
        if self.max_batch_wait_seconds is not None:
            return self.max_batch_wait_seconds
        return 0.0 if local else DATAFLOW_BATCH_WAIT_SECONDS

    def write_buffer(self, *, local: bool) -> float:
        """How long a streaming job's rows wait for a cross-bundle write batch (0: per bundle)."""
        if self.write_buffer_seconds is not None:
            return self.write_buffer_seconds
        return 0.0 if local else DATAFLOW_WRITE_BUFFER_SECONDS

    def table(self, name: str) -> str:
        return f"{self.resolved_project()}.{self.dataset}.{name}"
