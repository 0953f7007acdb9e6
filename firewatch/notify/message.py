"""What a notification says, and its shape for each channel (pure: no I/O).

`notice(event, console_url)` reads any event on the alerts topic through its type
(`firewatch.core.alerts`: a fire alert is read as its `AlertEvent`; camera-health and drift events
need at least camera_id and event), and gives a `Notice`: a title, text lines, the box and the link to
the console's alert page (`/alerts/{alert_id}`). The `*_payload` functions shape it for a channel.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from firewatch.core.alerts import ALERT_KINDS, AlertEvent

ALERT_EVENTS = ALERT_KINDS
TITLES = {
    "open": "FIRE ALERT on camera {camera}",
    "update": "Fire alert update, camera {camera}",
    "close": "Fire alert closed, camera {camera}",
    "stale": "Fire alert ended: camera {camera} went silent",
}
TELEGRAM_CAPTION_MAX = 1024
TELEGRAM_TEXT_MAX = 4096


@dataclass(frozen=True)
class Thumbnail:
    """A scaled-down JPEG of a frame, and which frame it shows."""

    jpeg: bytes
    source_uri: str
    label: str


@dataclass(frozen=True)
class Notice:
    kind: str  # "alert" or "camera_health" (any event that is not an alert's)
    event: str
    camera_id: str
    title: str
    lines: tuple[str, ...]
    link: str | None = None
    box: dict[str, float] | None = None
    alert_id: str | None = None
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join((self.title, *self.lines))


def alert_link(console_url: str | None, alert_id: str | None) -> str | None:
    if not console_url or not alert_id:
        return None
    return f"{console_url.rstrip('/')}/alerts/{quote(alert_id, safe='')}"


def box_text(box: dict[str, Any] | None) -> str:
    if not box:
        return "Box: none (the peak frame had no fire box)"
    return (
        f"Box: x {box['x_min']:.2f}-{box['x_max']:.2f}, y {box['y_min']:.2f}-{box['y_max']:.2f} "
        "(fractions of the frame, from the top left)"
    )


def notice(event: dict[str, Any], console_url: str | None) -> Notice:
    kind = str(event.get("event", "unknown"))
    if kind not in ALERT_KINDS or "alert_id" not in event:
        return _health_notice(event, kind, str(event.get("camera_id", "?")), console_url)
    try:
        typed = AlertEvent.model_validate(event)
    except ValidationError as exc:  # reported by the notifier as an unreadable event, never sent half-read
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise ValueError(f"alert event does not fit its type: {where}: {problem['msg']}") from None
    link = alert_link(console_url, typed.alert_id)
    box = None if typed.peak_box is None else typed.peak_box.model_dump()
    lines = [
        f"Time: {typed.event_time} (frames {typed.first_frame_at} to {typed.last_frame_at})",
        f"Probability: peak {typed.peak_probability:.3f}, "
        f"mean {typed.mean_probability:.3f} over {typed.fire_frames} fire frame(s)",
        box_text(box),
        f"Peak frame: {typed.peak_frame_key}",
        f"Alert: {typed.alert_id}",
    ]
    if link:
        lines.append(f"Alert page: {link}")
    return Notice(
        kind="alert",
        event=typed.event,
        camera_id=typed.camera_id,
        title=TITLES[typed.event].format(camera=typed.camera_id),
        lines=tuple(lines),
        link=link,
        box=box,
        alert_id=typed.alert_id,
        source=event,
    )


def _health_notice(event: dict[str, Any], kind: str, camera: str, console_url: str | None) -> Notice:
    lines = [f"Time: {event.get('event_time') or event.get('computed_at') or '?'}"]
    for key in ("state", "previous_state", "reason", "detail", "last_frame_at"):
        if event.get(key) not in (None, ""):
            lines.append(f"{key.replace('_', ' ').capitalize()}: {event[key]}")
    link = f"{console_url.rstrip('/')}/cameras" if console_url else None
    if link:
        lines.append(f"Cameras: {link}")
    return Notice(
        kind="camera_health",
        event=kind,
        camera_id=camera,
        title=f"Camera {camera}: {kind}",
        lines=tuple(lines),
        link=link,
        alert_id=event.get("alert_id"),
        source=event,
    )


def _thumb_line(thumb: Thumbnail | None) -> str | None:
    return f"Picture: {thumb.label}" if thumb else None


def webhook_body(note: Notice, thumb: Thumbnail | None) -> bytes:
    """The generic webhook's JSON (the exact bytes that are signed)."""
    body = {
        "kind": note.kind,
        "event": note.event,
        "camera_id": note.camera_id,
        "alert_id": note.alert_id,
        "title": note.title,
        "text": note.text,
        "link": note.link,
        "box": note.box,
        "thumbnail": None
        if thumb is None
        else {
            "content_type": "image/jpeg",
            "label": thumb.label,
            "source_uri": thumb.source_uri,
            "base64": base64.b64encode(thumb.jpeg).decode("ascii"),
        },
        "payload": note.source,
    }
    return json.dumps(body, sort_keys=True).encode("utf-8")


def slack_payload(note: Notice, thumb: Thumbnail | None) -> dict[str, Any]:
    """Incoming-webhook JSON: `text` (the fallback) and `blocks`. Slack webhooks cannot upload a
    picture, so the thumbnail is only named."""
    lines = [*note.lines, *filter(None, [_thumb_line(thumb)])]
    body = "\n".join(line.replace(note.link, f"<{note.link}|open the alert page>") if note.link else line
                     for line in lines)  # fmt: skip
    return {
        "text": note.text,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": note.title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}},
        ],
    }


def telegram_text(note: Notice, thumb: Thumbnail | None, limit: int) -> str:
    text = "\n".join((note.title, *note.lines, *filter(None, [_thumb_line(thumb)])))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def email_message(note: Notice, thumb: Thumbnail | None, sender: str, to: list[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = note.title
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg.set_content("\n".join((*note.lines, *filter(None, [_thumb_line(thumb)]))) + "\n")
    if thumb is not None:
        msg.add_attachment(thumb.jpeg, maintype="image", subtype="jpeg", filename="peak-frame.jpg")
    return msg
