"""Subscribing to the fire-alert topic and printing alerts as they arrive."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from firewatch.core.alerts import describe, parse_event
from firewatch.core.names import resource_path


def format_alert(event: dict[str, Any]) -> str:
    """One alerts-topic event as a line (`firewatch.core.alerts.describe`); anything else as its JSON."""
    typed = parse_event(event)
    return describe(typed) if typed is not None else f"[?     ] {json.dumps(event, sort_keys=True, default=str)[:300]}"


def listen(
    subscription: str,
    project: str,
    on_alert: Callable[[dict[str, Any]], None],
    *,
    camera: str | None = None,
    max_alerts: int | None = None,
    timeout: float | None = None,
) -> int:
    """Stream-pull alerts until max_alerts arrived or timeout seconds passed; return the count."""
    from firewatch.cloud.clients import subscriber_client

    subscriber = subscriber_client()
    path = resource_path("subscriptions", subscription, project)
    received = 0
    done = threading.Event()
    lock = threading.Lock()

    def callback(message) -> None:
        nonlocal received
        message.ack()
        if camera and message.attributes.get("camera_id") != camera:
            return
        try:
            event = json.loads(message.data)
        except ValueError:
            event = {"event": "unparseable", "raw": message.data[:200].decode(errors="replace")}
        with lock:
            received += 1
            on_alert(event)
            if max_alerts and received >= max_alerts:
                done.set()

    future = subscriber.subscribe(path, callback=callback)
    try:
        done.wait(timeout)
    finally:
        future.cancel()
        try:
            future.result(timeout=10)
        except Exception:  # noqa: BLE001 - cancelled on purpose
            pass
        subscriber.close()
    return received
