"""The batch job's configuration: one pydantic model, mapped 1:1 to CLI flags and
flex-template parameters (see `firewatch.config.options`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from firewatch.config.scoring import ScoringConfig

BIGQUERY_SINK = "bigquery"
ENGINES = ("firewatch", "tfx-bsl")


class BatchConfig(ScoringConfig):
    input: str = Field(
        ...,
        description="folder, glob (local or gs://), TFRecord files (*.tfrecord or tfrecord:PATTERN), "
        "or bq:SELECT ... returning a uri column",
    )
    output: str = Field(..., description="folder / gs:// prefix for JSONL or Parquet files, or 'bigquery'")
    output_format: Literal["jsonl", "parquet"] = Field("jsonl", description="file format for a folder sink")
    camera_id: str | None = Field(None, description="camera id for the rows (default: the file's folder name)")
    inference_engine: Literal["firewatch", "tfx-bsl"] = Field(
        "firewatch",
        description="firewatch: decode in Python, batch the float signature (any input); tfx-bsl: tfx-bsl's "
        "RunInference on the TFRecords' tf.Examples, decoded in the model graph (TFRecord input only)",
    )
    explanations_output: str | None = Field(
        None, description="where overlay PNGs go (default: OUTPUT/explanations, or gs://FRAMES_BUCKET/explanations)"
    )

    @model_validator(mode="after")
    def _engine_fits_input(self) -> BatchConfig:
        from firewatch.beam.sources import source_kind

        kind = source_kind(self.input)
        if self.inference_engine == "tfx-bsl" and kind != "tfrecord":
            raise ValueError(
                f"--inference-engine tfx-bsl scores the ingest's tf.Example TFRecords only, and --input "
                f"{self.input} is {kind} input; give TFRecord files (*.tfrecord or tfrecord:PATTERN) or use "
                "--inference-engine firewatch"
            )
        if self.inference_engine == "tfx-bsl" and self.reads_masks():
            raise ValueError(
                "--inference-engine tfx-bsl decodes frames in the model graph and cannot apply the cameras' "
                "exclusion masks: use --inference-engine firewatch, or --masks-table '' to score unmasked"
            )
        return self

    @property
    def to_bigquery(self) -> bool:
        return self.output == BIGQUERY_SINK

    @property
    def needs_project(self) -> bool:
        """BigQuery is read or written (a file-to-file run needs no Google Cloud project)."""
        from firewatch.beam.sources import source_kind

        return self.to_bigquery or source_kind(self.input) == "bigquery"

    def reads_tables(self) -> bool:
        """Masks and baselines are read when the job uses BigQuery or names a project: a file-to-file
        run without a project touches no Google Cloud, and scores its frames unmasked."""
        return self.needs_project or self.project is not None

    def overlay_prefix(self) -> str:
        if self.explanations_output:
            return self.explanations_output
        if self.to_bigquery:
            return f"gs://{self.frames_bucket()}/explanations"
        return self.output.rstrip("/") + "/explanations"
