"""Configs of the user-side client commands (`firewatch publish`, `firewatch alerts`), mapped 1:1
to their flags like every job's config; resource-name defaults come from infra/resources.json."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from firewatch.config.scoring import DEFAULT_NAMES


class PublishConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    sources: tuple[str, ...] = Field(
        min_length=1, description="PATH (camera from --camera) or CAMERA=PATH: files, folders, animated images, videos"
    )
    camera: str | None = Field(None, description="camera id for sources given without CAMERA=")
    topic: str = Field(DEFAULT_NAMES.frames_topic, description="frames topic (name or full path)")
    project: str | None = Field(None, description="Google Cloud project (default: from the environment)")
    fps: float = Field(1.0, gt=0, description="frames per second per camera")
    as_uri: bool = Field(False, description='upload to GCS and publish {"uri": ...}')
    bucket: str = Field(DEFAULT_NAMES.frames_bucket, description="bucket for --as-uri")
    fast: bool = Field(False, description="do not wait between frames (captured_at still spaced)")


class AlertsConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    subscription: str = Field(DEFAULT_NAMES.alerts_subscription, description="alerts subscription")
    project: str | None = Field(None, description="Google Cloud project (default: from the environment)")
    camera: str | None = Field(None, description="only this camera")
    count: int | None = Field(None, ge=1, description="stop after this many alerts")
    timeout: float | None = Field(None, gt=0, description="stop after this many seconds")
    as_json: bool = Field(False, description="print each alert as JSON")
