"""The events on the alerts topic, typed, and the one way they are written down as text.

Three kinds of event share the topic (the message attribute `event` tells them apart, for
subscription filters):

* `AlertEvent`: a fire alert opened, updated, closed or ended stale (`firewatch.core.confirm`);
  the same object is an `alerts`-table row (`row()`) and the message body (`message()`).
* `HealthEvent`: a camera's health changed (`firewatch.core.health`: frozen, blind, moved, night,
  stale, healthy); attribute `event=camera_health`.
* `DriftEvent`: a camera's score distribution drifted (`firewatch drift run`); attribute `event=drift`.

`parse_event(body)` reads any of them (None for anything else: logged and skipped by the readers);
`describe(event)` is the one-line text every reader prints (`firewatch alerts`, the edge runner, the
demo); `firewatch.notify.message` builds its longer notices from the same types. A new alert channel
takes a `TopicEvent` and needs no knowledge of the dicts underneath.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

ALERT_KINDS = ("open", "update", "close", "stale")
HEALTH_EVENT = "camera_health"  # the attribute camera-health events carry on the alerts topic
DRIFT_EVENT = "drift"


class AlertBox(BaseModel):
    """Where the peak frame fired, fractions of the frame from the top left."""

    model_config = ConfigDict(frozen=True)

    x_min: float
    y_min: float
    x_max: float
    y_max: float

    def text(self) -> str:
        return f"{self.x_min:.2f},{self.y_min:.2f}-{self.x_max:.2f},{self.y_max:.2f}"


class AlertEvent(BaseModel):
    """A fire alert's event: an `alerts`-table row and the alert message's JSON body."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    alert_id: str
    camera_id: str
    event: Literal["open", "update", "close", "stale"]
    event_time: str | None = None
    first_frame_at: str | None = None
    last_frame_at: str | None = None
    fire_frames: int = 0
    peak_probability: float = 0.0
    mean_probability: float = 0.0
    frame_uris: tuple[str, ...] = ()
    peak_frame_key: str | None = None
    explanation_uri: str | None = None
    model_version: str | None = None
    peak_box: AlertBox | None = None

    def row(self) -> dict[str, Any]:
        """The alerts-table row (infra/schemas/alerts.json), also the message body."""
        row = self.model_dump(mode="json")
        row["frame_uris"] = list(self.frame_uris)
        return row

    def message(self) -> tuple[bytes, dict[str, str]]:
        """The alert topic's message: the JSON event as data, with `camera_id`, `event` and `alert_id`
        attributes for subscription filters (pipeline and edge alike)."""
        attributes = {"camera_id": self.camera_id, "event": self.event, "alert_id": self.alert_id}
        return json.dumps(self.row(), sort_keys=True).encode("utf-8"), attributes


class HealthEvent(BaseModel):
    """A camera-health change as published on the alerts topic (`event` is the new state)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    camera_id: str
    event: str
    state: str | None = None
    previous_state: str | None = None
    event_time: str | None = None
    reason: str | None = None


class DriftEvent(BaseModel):
    """A camera's score distribution drifted (`firewatch drift run`)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    camera_id: str
    event: Literal["drift"] = "drift"
    metrics: Any = None
    psi: Any = None


TopicEvent = AlertEvent | HealthEvent | DriftEvent


def parse_event(body: bytes | str | dict[str, Any]) -> TopicEvent | None:
    """The typed event of an alerts-topic message body (JSON bytes or an already parsed dict), or
    None when it is none of the three (not JSON, no camera_id, an alert without its id)."""
    if isinstance(body, bytes | str):
        try:
            body = json.loads(body)
        except ValueError:
            return None
    if not isinstance(body, dict) or not isinstance(body.get("camera_id"), str):
        return None
    kind = body.get("event")
    model: type[BaseModel]
    if kind in ALERT_KINDS and "alert_id" in body:
        model = AlertEvent
    elif kind == DRIFT_EVENT:
        model = DriftEvent
    elif isinstance(kind, str):
        model = HealthEvent
    else:
        return None
    try:
        return model.model_validate(body)  # type: ignore[return-value]
    except ValidationError:
        return None


def alert_message_parts(event: dict[str, Any] | AlertEvent) -> tuple[bytes, dict[str, str]]:
    """An alert event (a row or the typed event) as the alert topic's message (`AlertEvent.message`)."""
    typed = event if isinstance(event, AlertEvent) else AlertEvent.model_validate(event)
    return typed.message()


def describe(event: TopicEvent) -> str:
    """The one-line text of an alerts-topic event, as every reader prints it."""
    if isinstance(event, AlertEvent):
        line = (
            f"[{event.event.upper():6}] camera={event.camera_id} alert={event.alert_id} "
            f"fire_frames={event.fire_frames} peak={event.peak_probability:.3f} "
            f"mean={event.mean_probability:.3f} first={event.first_frame_at} last={event.last_frame_at}"
        )
        if event.peak_box is not None:  # where the peak frame fired (absent: whole-frame scoring)
            line += f" box={event.peak_box.text()}"
        if event.explanation_uri:
            line += f" explanation={event.explanation_uri}"
        return line
    if isinstance(event, DriftEvent):
        return f"[DRIFT ] camera={event.camera_id} metrics={event.metrics} psi={event.psi}"
    line = f"[HEALTH] camera={event.camera_id} state={event.state or event.event}"
    if event.previous_state:
        line += f" (was {event.previous_state})"
    return line + (f": {event.reason}" if event.reason else "")
