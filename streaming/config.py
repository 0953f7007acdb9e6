"""The streaming job's configuration: one pydantic model, mapped 1:1 to CLI flags and
flex-template parameters (see `firewatch.options`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from firewatch.confirm import ConfirmConfig
from firewatch.contract import PUBSUB_MAX_MESSAGE_BYTES, MessageLimits
from firewatch.explain import ExplainConfig


class StreamingConfig(BaseModel):
    model_config = ConfigDict(frozen=True, protected_namespaces=())

    model: str = Field(..., description="exported model directory (local path or gs://)")
    project: str | None = Field(None, description="Google Cloud project (default: from the environment)")
    subscription: str = Field("frames-sub", description="frames subscription (name or full path)")
    alerts_topic: str = Field("alerts", description="topic for alert events (name or full path)")
    dead_letter_topic: str = Field(
        "dead-letters", description="topic that also receives every dead letter (empty: table only)"
    )
    dataset: str = Field("firewatch", description="BigQuery dataset")
    predictions_table: str = Field("predictions", description="table for one row per frame")
    dead_letters_table: str = Field("dead_letters", description="table for rejected messages")
    alerts_table: str = Field("alerts", description="table for alert events")
    explanations_table: str = Field("explanations", description="table for explanations")
    allowed_buckets: tuple[str, ...] = Field(("firewatch-frames",), description="buckets gs:// URIs may use")
    max_message_bytes: int = Field(PUBSUB_MAX_MESSAGE_BYTES, gt=0, description="largest message accepted")
    max_object_bytes: int = Field(20 * 1024 * 1024, gt=0, description="largest gs:// object fetched")
    max_pixels: int = Field(40_000_000, gt=0, description="largest image (pixels) decoded")
    max_batch_size: int = Field(32, ge=1, le=1024, description="RunInference batch size ceiling")
    explain: bool = Field(True, description="compute explanations for fire frames")
    explanations_output: str = Field(
        "gs://firewatch-frames/explanations", description="where explanation overlay PNGs are written"
    )
    explanation: ExplainConfig = Field(default_factory=ExplainConfig)
    confirm: ConfirmConfig = Field(default_factory=ConfirmConfig)

    def limits(self) -> MessageLimits:
        return MessageLimits(
            max_message_bytes=self.max_message_bytes,
            max_object_bytes=self.max_object_bytes,
            max_pixels=self.max_pixels,
            allowed_buckets=self.allowed_buckets,
        )

    def resolved_project(self) -> str:
        from firewatch.gcp import project_id

        return project_id(self.project)

    def table(self, name: str) -> str:
        return f"{self.resolved_project()}.{self.dataset}.{name}"

    def subscription_path(self) -> str:
        return _path(self.subscription, self.resolved_project(), "subscriptions")

    def alerts_topic_path(self) -> str:
        return _path(self.alerts_topic, self.resolved_project(), "topics")

    def dead_letter_topic_path(self) -> str | None:
        return _path(self.dead_letter_topic, self.resolved_project(), "topics") if self.dead_letter_topic else None


def _path(name: str, project: str, kind: str) -> str:
    return name if name.startswith("projects/") else f"projects/{project}/{kind}/{name}"
