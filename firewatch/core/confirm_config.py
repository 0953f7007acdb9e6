"""The confirmation's settings (`firewatch.core.confirm`): k of n, thresholds, timings, places.

Flags and template parameters of the jobs come from this model (`--confirm-k`, ...)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ConfirmConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    k: int = Field(3, ge=1, description="fire frames needed among the last n")
    n: int = Field(5, ge=1, description="window length in frames")
    open_threshold: float | None = Field(
        None, ge=0, le=1, description="probability that counts as fire; default: the model's threshold"
    )
    close_ratio: float = Field(0.75, gt=0, le=1, description="while open, fire counts at open_threshold * close_ratio")
    clear_seconds: float = Field(30.0, gt=0, description="clear time (frame time) that closes an alert")
    cooldown_seconds: float = Field(60.0, ge=0, description="no re-open this soon after a close")
    update_every: int = Field(5, ge=1, description="emit an update every this many fire frames")
    reorder_seconds: float = Field(
        5.0, ge=0, description="frame-time wait for out-of-order frames before they are counted"
    )
    flush_after_seconds: float = Field(
        10.0, gt=0, description="wall-clock time after which frames still waiting are counted anyway"
    )
    stale_seconds: float = Field(
        300.0,
        gt=0,
        description="wall-clock silence after which a camera's open alert ends with a 'stale' event "
        "and the camera's state is released",
    )
    max_frame_uris: int = Field(20, ge=1)
    by_place: bool = Field(
        True,
        description="an alert needs its k of n fire frames in one place (fire boxes near one another); "
        "false: anywhere in the frame",
    )
    place_margin: float = Field(
        0.05,
        ge=0,
        le=0.5,
        description="fire boxes are in the same place when they intersect after growing each by this "
        "share of the frame on every side",
    )
    remember_frames: int = Field(2000, ge=1, description="frame keys remembered for de-duplication")
    max_open_alerts: int = Field(
        4, ge=1, le=64, description="alerts a camera can have open at once, in different places (by_place)"
    )

    @model_validator(mode="after")
    def _k_le_n(self) -> ConfirmConfig:
        if self.k > self.n:
            raise ValueError(f"k ({self.k}) cannot exceed n ({self.n})")
        return self
