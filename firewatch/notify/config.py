"""`firewatch notify` / `firewatch notify serve` settings (flags = `NotifyConfig`, 1:1).

Process settings only; channels, routes and throttling are in the config file (`settings`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from infra.resources import ResourceNames

# Resource names are declared once (infra/resources.json, as infra/terraform names them).
DEFAULT_NAMES = ResourceNames()


class NotifyConfig(BaseModel):
    mode: Literal["pull", "serve"] = Field(
        "pull", description="pull: from --subscription (default); serve: an HTTP endpoint for a push subscription"
    )
    config: str = Field(description="the notifier's config file (YAML): channels, routes, update_every_minutes")
    subscription: str | None = Field(
        None, description="pull: subscription to the alerts topic (name or projects/P/subscriptions/S)"
    )
    undeliverable_topic: str = Field(
        DEFAULT_NAMES.notify_undeliverable_topic,
        description="topic for messages no channel would take, with their reason (name or projects/P/topics/T)",
    )
    project: str | None = Field(None, description="Google Cloud project (default: the environment's)")
    console_url: str | None = Field(None, description="the console's base URL, for links to an alert's page")
    attempts: int = Field(4, ge=1, le=20, description="tries per channel before a message is undeliverable")
    initial_backoff_s: float = Field(0.5, ge=0, description="wait before the second try (doubles each time)")
    max_backoff_s: float = Field(8.0, ge=0, description="longest wait between tries")
    timeout_s: float = Field(10.0, gt=0, description="timeout of one request to a channel")
    thumbnail_px: int = Field(480, ge=32, le=2048, description="longest side of the peak frame's thumbnail")
    max_in_flight: int = Field(4, ge=1, le=100, description="pull: messages handled at once")
    host: str = Field("0.0.0.0", description="serve: address to listen on")  # noqa: S104 - Cloud Run's contract
    port: int = Field(8080, ge=1, le=65535, description="serve: port (Cloud Run sets $PORT)")
