"""Pydantic configurations of the edge jobs (`firewatch export-tflite`, `firewatch edge run`); flags map 1:1."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from firewatch.config.scoring import DEFAULT_NAMES
from firewatch.core.confirm import ConfirmConfig
from firewatch.core.regions import RegionConfig
from model.config import local_folder, no_trailing_slash

Variant = Literal["float32", "float16", "dynamic_int8", "full_int8"]
VARIANTS: tuple[str, ...] = ("float32", "float16", "dynamic_int8", "full_int8")


class ExportTFLiteConfig(BaseModel):
    """`firewatch export-tflite`: TFLite variants of MODEL_DIR plus a comparison table on the test split."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="exported MODEL_DIR (local or gs://)")
    data: str = Field(description="TFRecord folder from `firewatch data ingest` (train: calibration; test: table)")
    output: str = Field(description="local folder for the .tflite files, their metadata and the comparison table")
    variants: list[Variant] = Field(default_factory=lambda: list(VARIANTS), min_length=1)
    representative_count: int = Field(
        200, ge=1, le=10_000, description="training images used to calibrate full-integer quantization"
    )
    split: Literal["train", "valid", "test"] = Field("test", description="split the comparison table is measured on")
    latency_runs: int = Field(1, ge=1, le=100, description="timed passes over the split per variant")
    num_threads: int = Field(1, ge=1, le=64, description="LiteRT interpreter threads (edge devices: 1-4)")

    _v = field_validator("model", "data")(no_trailing_slash)
    _o = field_validator("output")(local_folder)


class EdgeRunConfig(BaseModel):
    """`firewatch edge run`: classify frames on CPU with a .tflite model and confirm fire like the pipeline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="a .tflite file written by `firewatch export-tflite`")
    sources: list[str] = Field(min_length=1, description="PATH or CAMERA=PATH: images, folders, GIFs, videos")
    camera: str = Field("edge-0", min_length=1, description="camera id for sources given without CAMERA=")
    fps: float = Field(1.0, gt=0, description="frame rate: videos are sampled at it and frame times spaced 1/fps")
    threshold: float | None = Field(None, ge=0, le=1, description="override the model's threshold")
    num_threads: int = Field(2, ge=1, le=64)
    publish: bool = Field(False, description="publish alert events to the alerts topic")
    alerts_topic: str = Field(DEFAULT_NAMES.alerts_topic, min_length=1)
    project: str | None = None
    json_output: bool = Field(False, description="print one JSON object per frame / event")
    confirm: ConfirmConfig = Field(default_factory=ConfirmConfig)
    regions: RegionConfig = Field(default_factory=RegionConfig)
