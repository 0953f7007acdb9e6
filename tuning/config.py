"""Pydantic configuration of `firewatch tune` (flags map 1:1)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from model.config import local_folder, no_trailing_slash


class TuneConfig(BaseModel):
    """`firewatch tune`: an Optuna search over `tuning.space.SEARCH_SPACE`, each trial a `firewatch train` run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data: str = Field(description="TFRecord folder from `firewatch data ingest`")
    output: str = Field(description="local folder: trials.csv/json/md, best_config.json, best-model/")
    trials: int = Field(8, ge=1, le=1000, description="number of trials")
    timeout_seconds: float | None = Field(None, gt=0, description="stop starting trials after this long")
    epochs: int = Field(3, ge=1, le=1000, description="epochs per trial")
    fine_tune_epochs: int = Field(1, ge=0, le=1000, description="mobilenet_v2 fine-tuning epochs per trial")
    batch_size: int = Field(32, ge=1, le=4096)
    target_precision: float = Field(0.95, gt=0, le=1.0, description="objective: valid recall at this precision")
    backbones: list[str] = Field(default_factory=list, description="limit the backbones searched (default: all)")
    image_sizes: list[int] = Field(default_factory=list, description="limit the image sizes searched (default: all)")
    seed: int = Field(0, ge=0, description="sampler and training seed")
    keep_models: bool = Field(False, description="keep every trial's exported model (default: the best only)")

    _v = field_validator("data")(no_trailing_slash)
    _o = field_validator("output")(local_folder)
