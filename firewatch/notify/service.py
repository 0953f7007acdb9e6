"""One message from the alerts topic through the notifier: parse, gate, route, send, and account.

`Notifier.handle(data, attributes, message_id)` returns an `Outcome`; the caller (pull subscriber
or push endpoint) acknowledges the message only when `outcome.ack` is true: every routed channel
took it, or the channels that would not were reported on the undeliverable topic (the message's
own data, its attributes, plus `channel`, `reason`, `attempts` and `original_message_id`).
Nothing is dropped without a trace: a message that cannot be parsed goes to the undeliverable
topic too, and a throttled update or an event no route wants is logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from firewatch.notify import channels, message, routing
from firewatch.notify.message import Thumbnail
from firewatch.notify.retry import with_retries
from firewatch.notify.settings import NotifySettings
from firewatch.notify.throttle import Delivered, UpdateGate
from firewatch.notify.thumbnail import fetch_thumbnail

log = logging.getLogger("firewatch.notify")


@dataclass(frozen=True)
class DeliveryPolicy:
    console_url: str | None = None
    attempts: int = 4
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    timeout_s: float = 10.0
    thumbnail_px: int = 480


@dataclass
class Outcome:
    ack: bool
    sent: list[str] = field(default_factory=list)
    undeliverable: list[tuple[str, str]] = field(default_factory=list)  # (channel, reason)
    skipped: str | None = None


# (data, attributes) -> None; raises when the undeliverable topic did not take the message.
Publish = Callable[[bytes, dict[str, str]], None]


def _parse_time(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


class Notifier:
    def __init__(
        self,
        settings: NotifySettings,
        policy: DeliveryPolicy,
        publish_undeliverable: Publish,
        *,
        send: Callable[..., None] = channels.send,
        thumbnail: Callable[[dict[str, Any], int], tuple[Thumbnail | None, str | None]] = fetch_thumbnail,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.settings = settings
        self.policy = policy
        self.publish_undeliverable = publish_undeliverable
        self.gate = UpdateGate(timedelta(minutes=settings.update_every_minutes))
        self.delivered = Delivered()
        self._send = send
        self._thumbnail = thumbnail
        self._sleep = sleep

    def handle(self, data: bytes, attributes: dict[str, str], message_id: str = "") -> Outcome:
        try:
            event = json.loads(data.decode("utf-8"))
            if not isinstance(event, dict) or not event.get("camera_id") or not event.get("event"):
                raise ValueError("not an event object with camera_id and event")
        except (UnicodeDecodeError, ValueError) as exc:
            return self._report(data, attributes, message_id, [("none", f"unreadable event: {exc}", 0)])
        kind, camera = str(event["event"]), str(event["camera_id"])
        key = f"{event.get('alert_id') or camera}|{kind}|{event.get('event_time')}"
        names = routing.channels_for(self.settings.routes, camera, kind)
        if not names:
            log.info("no route for %s event of camera %s: acknowledged, not sent", kind, camera)
            return Outcome(ack=True, skipped="no route")
        if event.get("alert_id") and kind in message.ALERT_EVENTS:
            when = _parse_time(event.get("event_time"))
            if when is None:
                return self._report(
                    data, attributes, message_id, [("none", "alert event without a valid event_time", 0)]
                )
            send_now, why = self.gate.decide(str(event["alert_id"]), kind, when)
            if not send_now:
                log.info("%s %s of alert %s not sent: %s", camera, kind, event["alert_id"], why)
                return Outcome(ack=True, skipped=why)
        try:
            note = message.notice(event, self.policy.console_url)
        except (KeyError, TypeError, ValueError) as exc:
            return self._report(data, attributes, message_id, [("none", f"unreadable event: {exc!r}", 0)])
        thumb = None
        if note.kind == "alert" and kind == "open":
            thumb, why_not = self._thumbnail(event, self.policy.thumbnail_px)
            if why_not:
                log.warning("alert %s: no thumbnail (%s)", note.alert_id, why_not)
        outcome, failures = Outcome(ack=True), []
        for name in names:
            if self.delivered.has(key, name):
                continue
            channel = self.settings.channels[name]
            tries, error = with_retries(
                lambda channel=channel: self._send(channel, note, thumb, self.policy.timeout_s),
                attempts=self.policy.attempts,
                initial_s=self.policy.initial_backoff_s,
                max_s=self.policy.max_backoff_s,
                **({"sleep": self._sleep} if self._sleep else {}),
            )
            if error is None:
                self.delivered.add(key, name)
                outcome.sent.append(name)
            else:
                failures.append((name, f"{channel.type} channel {name}: {error.reason}", tries))
        if failures:
            reported = self._report(data, attributes, message_id, failures)
            for name, _ in reported.undeliverable:  # reported: not sent there again on a redelivery
                self.delivered.add(key, name)
            reported.sent = outcome.sent
            return reported
        log.info("%s %s of camera %s sent to %s", note.kind, kind, camera, ", ".join(outcome.sent) or "(already sent)")
        return outcome

    def _report(
        self, data: bytes, attributes: dict[str, str], message_id: str, failures: list[tuple[str, str, int]]
    ) -> Outcome:
        outcome = Outcome(ack=True)
        for name, reason, tries in failures:
            attrs = {**attributes, "channel": name, "reason": reason[:1000], "attempts": str(tries),
                     "original_message_id": message_id}  # fmt: skip
            try:
                self.publish_undeliverable(data, attrs)
            except Exception as exc:  # noqa: BLE001 - the message stays unacknowledged and comes back
                log.error("could not publish to the undeliverable topic (%s): leaving the message unacked", exc)
                outcome.ack = False
                continue
            log.warning("undeliverable: %s", reason)
            outcome.undeliverable.append((name, reason))
        return outcome
