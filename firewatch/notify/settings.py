"""The notifier's config file (YAML, or JSON which YAML reads too): channels, routes, throttling.

    update_every_minutes: 10          # at most one update per alert this often
    channels:
      ops:      {type: webhook, url: "https://hooks.example.org/fire", secret: "${FIREWATCH_WEBHOOK_SECRET}"}
      chat:     {type: slack, url: "${SLACK_WEBHOOK_URL}"}
      phone:    {type: telegram, token: "sm://projects/P/secrets/telegram-token/versions/latest", chat_id: "-100123"}
      mail:     {type: email, host: smtp.example.org, port: 587, starttls: true, username: fire@example.org,
                 password: "${SMTP_PASSWORD}", sender: fire@example.org, to: [ops@example.org]}
    routes:
      - {cameras: ["ridge-*"], events: [open, close, stale], channels: [ops, chat, phone, mail]}
      - {cameras: ["*"], events: [update, frozen, blind, moved, healthy], channels: [ops]}

A message goes to every channel of every route whose camera glob and event type match it.
Secrets (webhook signing secret, Slack URL, Telegram token, SMTP password) must be references
(`firewatch.notify.secrets`); `load_settings` resolves them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from firewatch.errors import ConfigError
from firewatch.notify import secrets

NAME = r"^[A-Za-z0-9_.-]{1,64}$"


class _Channel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebhookChannel(_Channel):
    type: Literal["webhook"]
    url: str = Field(description="where the JSON is POSTed (a reference or a plain https URL)")
    secret: str = Field(description="HMAC-SHA256 key: ${ENV_VAR} or sm:// reference")

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: str) -> str:
        return secrets.check_reference(value, "webhook secret")


class SlackChannel(_Channel):
    type: Literal["slack"]
    url: str = Field(description="incoming-webhook URL (it carries a token): a reference")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return secrets.check_reference(value, "Slack webhook url")


class TelegramChannel(_Channel):
    type: Literal["telegram"]
    token: str = Field(description="bot token: a reference")
    chat_id: str
    api_base: str = "https://api.telegram.org"

    @field_validator("token")
    @classmethod
    def _token(cls, value: str) -> str:
        return secrets.check_reference(value, "Telegram bot token")


class EmailChannel(_Channel):
    type: Literal["email"]
    host: str
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    ca_file: str | None = Field(
        None, description="CA bundle that signs the server's certificate (default: the system's)"
    )
    username: str | None = None
    password: str | None = None
    sender: str
    to: list[str] = Field(min_length=1)

    @field_validator("password")
    @classmethod
    def _password(cls, value: str | None) -> str | None:
        return None if value is None else secrets.check_reference(value, "SMTP password")


Channel = Annotated[WebhookChannel | SlackChannel | TelegramChannel | EmailChannel, Field(discriminator="type")]


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cameras: list[str] = Field(default_factory=lambda: ["*"], description="camera id globs (fnmatch)")
    events: list[str] = Field(default_factory=lambda: ["*"], description="event types ('*': all)")
    channels: list[str] = Field(min_length=1)


class NotifySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    update_every_minutes: float = Field(10.0, ge=0, description="at most one update per alert this often")
    channels: dict[Annotated[str, Field(pattern=NAME)], Channel] = Field(min_length=1)
    routes: list[Route] = Field(min_length=1)

    @model_validator(mode="after")
    def _routes_name_channels(self) -> NotifySettings:
        for i, route in enumerate(self.routes):
            unknown = [name for name in route.channels if name not in self.channels]
            if unknown:
                raise ValueError(
                    f"routes[{i}] names unknown channel(s) {unknown}; channels are {sorted(self.channels)}"
                )
        return self


def parse_settings(text: str, source: str = "notify config") -> NotifySettings:
    """Validate a config file's text (references are not resolved here)."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}") from None
    try:
        return NotifySettings.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{where}: {msg}" if where else msg)
        raise ConfigError(f"invalid {source}: " + "; ".join(problems)) from None


def resolve_settings(settings: NotifySettings, **resolve_kwargs) -> NotifySettings:
    """A copy with every reference replaced by its value (environment or Secret Manager)."""
    channels = {}
    for name, channel in settings.channels.items():
        values = channel.model_dump()
        for key, value in values.items():
            if isinstance(value, str):
                values[key] = secrets.resolve(value, **resolve_kwargs)
        channels[name] = type(channel).model_construct(**values)
    return settings.model_copy(update={"channels": channels})


def load_settings(path: str | Path, **resolve_kwargs) -> NotifySettings:
    """Read, validate and resolve the config file at `path`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read notify config {path}: {exc.strerror or exc}") from None
    return resolve_settings(parse_settings(text, f"notify config {path}"), **resolve_kwargs)
