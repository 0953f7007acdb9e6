"""The console's one pydantic config, mapped 1:1 to `firewatch console` flags.

Safe by default: it binds 127.0.0.1; bound anywhere else it refuses to start unless operators
must identify themselves (bearer tokens from the environment, or the Identity-Aware Proxy header).
Tokens are never flags (flags show in `ps`): `$FIREWATCH_CONSOLE_TOKENS` = `alice=TOKEN,bob=TOKEN`.
"""

from __future__ import annotations

import ipaddress
import os
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from firewatch.config.scoring import DEFAULT_NAMES
from firewatch.core.names import is_bucket_name

TOKENS_VAR = "FIREWATCH_CONSOLE_TOKENS"
_OPERATOR_RE = re.compile(r"^[A-Za-z0-9._@+-]{1,100}$")


class ConsoleConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    host: str = Field("127.0.0.1", description="address to bind; anything but loopback needs operator identity")
    port: int = Field(8080, ge=1, le=65535, description="port to listen on")
    project: str | None = Field(None, description="Google Cloud project (default: from the environment)")
    dataset: str = Field(DEFAULT_NAMES.dataset, description="BigQuery dataset")
    predictions_table: str = Field(DEFAULT_NAMES.predictions_table, description="predictions table")
    alerts_table: str = Field(DEFAULT_NAMES.alerts_table, description="alerts table")
    explanations_table: str = Field(DEFAULT_NAMES.explanations_table, description="explanations table")
    dead_letters_table: str = Field(DEFAULT_NAMES.dead_letters_table, description="dead letters table")
    feedback_table: str = Field(DEFAULT_NAMES.feedback_table, description="table the verdicts are appended to")
    masks_table: str = Field(DEFAULT_NAMES.masks_table, description="table the exclusion masks are appended to")
    camera_health_table: str = Field(
        DEFAULT_NAMES.camera_health_table, description="camera health events (the board shows each camera's latest)"
    )
    alerts_subscription: str = Field(
        DEFAULT_NAMES.console_alerts_subscription, description="alerts subscription feeding the live list"
    )
    live: bool = Field(True, description="subscribe to alerts for the live list")
    allowed_buckets: tuple[str, ...] = Field(
        (DEFAULT_NAMES.frames_bucket,), min_length=1, description="the only buckets images are served from"
    )
    model: str | None = Field(None, description="exported model for the upload page (local or gs://)")
    trust_iap: bool = Field(
        False, description="take the operator from X-Goog-Authenticated-User-Email (only behind IAP)"
    )
    iap_audience: str | None = Field(
        None,
        description="verify IAP's signed X-Goog-IAP-JWT-Assertion for this audience "
        "(/projects/NUMBER/global/backendServices/ID) instead of trusting the e-mail header",
    )
    window_hours: float = Field(24.0, gt=0, le=24 * 90, description="how far back lists and the board look")
    stale_after_s: float = Field(300.0, gt=0, description="a camera without frames for this long is stale")
    max_upload_bytes: int = Field(10 * 1024 * 1024, gt=0, le=50 * 1024 * 1024, description="largest upload")

    @field_validator("allowed_buckets")
    @classmethod
    def _buckets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for bucket in value:
            if not is_bucket_name(bucket):
                raise ValueError(f"{bucket!r} is not a bucket name (give names, not gs:// URIs)")
        return value

    @model_validator(mode="after")
    def _exposed_needs_identity(self) -> ConsoleConfig:
        if self.iap_audience and not self.trust_iap:
            raise ValueError("--iap-audience verifies IAP identities: pass --trust-iap too")
        if not self.is_loopback and not self.trust_iap and not operator_tokens():
            raise ValueError(
                f"binding to {self.host} exposes the console: set ${TOKENS_VAR} (name=token,...) "
                "or pass --trust-iap behind Identity-Aware Proxy, or bind 127.0.0.1"
            )
        return self

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def table(self, project: str, name: str) -> str:
        return f"{project}.{self.dataset}.{name}"


def operator_tokens(environ: dict[str, str] | None = None) -> dict[str, str]:
    """token -> operator name, from $FIREWATCH_CONSOLE_TOKENS (`alice=TOKEN,bob=TOKEN`)."""
    raw = (environ if environ is not None else os.environ).get(TOKENS_VAR, "").strip()
    tokens: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        name, sep, token = item.partition("=")
        if not sep or not _OPERATOR_RE.match(name) or len(token) < 16:
            raise ValueError(f"${TOKENS_VAR} must be name=token pairs (tokens of 16+ characters), comma-separated")
        tokens[token] = name
    return tokens
