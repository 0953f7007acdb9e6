"""The streaming job's configuration: one pydantic model, mapped 1:1 to CLI flags and
flex-template parameters (see `firewatch.config.options`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from firewatch.config.scoring import DEFAULT_NAMES, ScoringConfig
from firewatch.core.confirm import ConfirmConfig
from firewatch.core.contract import PUBSUB_MAX_MESSAGE_BYTES
from firewatch.core.health import HealthConfig
from firewatch.core.names import resource_path


class StreamingConfig(ScoringConfig):
    model: str | None = Field(
        None,
        description="exported model directory (local path or gs://), fixed for the job's life; or --model-registry",
    )
    model_registry: str | None = Field(
        None,
        description="model registry folder (firewatch model register; local path or gs://): the job scores with "
        "the version its `current` names and follows it while it runs (firewatch model promote|rollback)",
    )
    model_refresh_seconds: float = Field(
        10.0, ge=1.0, le=3600.0, description="how often a job with --model-registry re-reads `current` (and `shadow`)"
    )
    shadow_share: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="with --model-registry: the share of frames also scored by the version the registry's `shadow` "
        "names (chosen by a hash of the frame key; never alerting), into --shadow-predictions-table; 0: off",
    )
    shadow_predictions_table: str = Field(
        DEFAULT_NAMES.shadow_predictions_table,
        description="table for the shadow version's rows (firewatch model compare)",
    )
    subscription: str = Field(DEFAULT_NAMES.frames_subscription, description="frames subscription (name or full path)")
    alerts_topic: str = Field(DEFAULT_NAMES.alerts_topic, description="topic for alert events (name or full path)")
    dead_letter_topic: str = Field(
        DEFAULT_NAMES.dead_letter_topic, description="topic that also receives every dead letter (empty: table only)"
    )
    alerts_table: str = Field(DEFAULT_NAMES.alerts_table, description="table for alert events")
    camera_health_table: str = Field(
        DEFAULT_NAMES.camera_health_table, description="table for camera health events (one per change of state)"
    )
    max_message_bytes: int = Field(PUBSUB_MAX_MESSAGE_BYTES, gt=0, description="largest message accepted")
    explanations_output: str | None = Field(
        None, description="where explanation overlay PNGs are written (default: gs://FRAMES_BUCKET/explanations)"
    )
    confirm: ConfirmConfig = Field(default_factory=ConfirmConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    drain_seconds: float = Field(
        60.0,
        ge=0,
        description="on a local stop, how long to wait for pulled frames to be written (the rest is redelivered)",
        json_schema_extra={"local_only": True},  # Dataflow drains a job itself: not a template parameter
    )
    heartbeat_file: str | None = Field(
        None,
        description="local runs: a JSON file rewritten every 5 s with the last pull and the last row written, "
        "for a supervisor (`firewatch liveness FILE`)",
        json_schema_extra={"local_only": True},  # Dataflow reports liveness itself: not a template parameter
    )

    @model_validator(mode="after")
    def _one_model(self) -> StreamingConfig:
        if bool(self.model) == bool(self.model_registry):
            raise ValueError("give exactly one of --model (a fixed model) and --model-registry (follow `current`)")
        return self

    def model_dir(self) -> str:
        """The model folder the job starts with: --model, or the version the registry's `current` names now."""
        if self.model:
            return self.model
        from firewatch.cloud.registry import read_pointer, version_dir
        from firewatch.core.registry import CURRENT
        from firewatch.errors import UserError

        registry = str(self.model_registry)
        try:
            version = read_pointer(registry, CURRENT)
        except (OSError, ValueError) as exc:
            raise UserError(f"--model-registry {registry}: cannot read `current`: {exc}") from None
        if not version:
            raise UserError(
                f"--model-registry {registry} has no `current`: run `firewatch model promote {registry} VERSION`"
            )
        return version_dir(registry, version)

    def shadow_scoring(self) -> bool:
        """Whether the job has the shadow branch: it follows a registry and scores a share of frames
        with `shadow` (whatever `shadow` names now: it may be set while the job runs)."""
        return bool(self.model_registry) and self.shadow_share > 0

    def message_limit(self) -> int:
        return self.max_message_bytes

    def overlay_prefix(self) -> str:
        return self.explanations_output or f"gs://{self.frames_bucket()}/explanations"

    def subscription_path(self) -> str:
        return resource_path("subscriptions", self.subscription, self.resolved_project())

    def alerts_topic_path(self) -> str:
        return resource_path("topics", self.alerts_topic, self.resolved_project())

    def dead_letter_topic_path(self) -> str | None:
        if not self.dead_letter_topic:
            return None
        return resource_path("topics", self.dead_letter_topic, self.resolved_project())


class LivenessConfig(BaseModel):
    """`firewatch liveness FILE`: is a local streaming job alive?"""

    model_config = ConfigDict(frozen=True)

    heartbeat_file: str = Field(description="the job's --heartbeat-file")
    max_age_seconds: float = Field(60.0, gt=0, description="older than this is stale")


class StreamDemoConfig(BaseModel):
    """`firewatch demo`: the whole service on the local stack with simulated cameras."""

    model_config = ConfigDict(frozen=True)

    workdir: str = Field("artifacts", description="where the demo model and frames go")
    keep_stack: bool = Field(False, description="leave the emulators running afterwards")
    timeout: float = Field(300.0, gt=0, description="seconds to wait for all rows")
