"""The batch job's configuration: one pydantic model, mapped 1:1 to CLI flags and
flex-template parameters (see `firewatch.options`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from firewatch.contract import MessageLimits
from firewatch.explain import ExplainConfig

BIGQUERY_SINK = "bigquery"


class BatchConfig(BaseModel):
    model_config = ConfigDict(frozen=True, protected_namespaces=())

    model: str = Field(..., description="exported model directory (local path or gs://)")
    input: str = Field(
        ...,
        description="folder, glob (local or gs://), TFRecord files (*.tfrecord or tfrecord:PATTERN), "
        "or bq:SELECT ... returning a uri column",
    )
    output: str = Field(..., description="folder / gs:// prefix for JSONL or Parquet files, or 'bigquery'")
    output_format: Literal["jsonl", "parquet"] = Field("jsonl", description="file format for a folder sink")
    camera_id: str | None = Field(None, description="camera id for the rows (default: the file's folder name)")
    project: str | None = Field(None, description="Google Cloud project (default: from the environment)")
    dataset: str = Field("firewatch", description="BigQuery dataset (sink 'bigquery')")
    predictions_table: str = Field("predictions", description="table for one row per image")
    dead_letters_table: str = Field("dead_letters", description="table for rejected inputs")
    explanations_table: str = Field("explanations", description="table for explanations")
    allowed_buckets: tuple[str, ...] = Field(
        ("firewatch-frames",), description="buckets that URIs returned by a bq: query may use"
    )
    max_object_bytes: int = Field(20 * 1024 * 1024, gt=0, description="largest image file read")
    max_pixels: int = Field(40_000_000, gt=0, description="largest image (pixels) decoded")
    max_batch_size: int = Field(64, ge=1, le=1024, description="RunInference batch size ceiling")
    explain: bool = Field(True, description="compute explanations for fire images")
    explanations_output: str | None = Field(
        None, description="where overlay PNGs go (default: OUTPUT/explanations, or gs://firewatch-frames/...)"
    )
    explanation: ExplainConfig = Field(default_factory=ExplainConfig)

    def limits(self) -> MessageLimits:
        return MessageLimits(
            max_message_bytes=self.max_object_bytes,
            max_object_bytes=self.max_object_bytes,
            max_pixels=self.max_pixels,
            allowed_buckets=self.allowed_buckets,
        )

    @property
    def to_bigquery(self) -> bool:
        return self.output == BIGQUERY_SINK

    def overlay_prefix(self) -> str:
        if self.explanations_output:
            return self.explanations_output
        if self.to_bigquery:
            return "gs://firewatch-frames/explanations"
        return self.output.rstrip("/") + "/explanations"

    def resolved_project(self) -> str:
        from firewatch.gcp import project_id

        return project_id(self.project)

    def table(self, name: str) -> str:
        return f"{self.resolved_project()}.{self.dataset}.{name}"
