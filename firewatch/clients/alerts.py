"""Subscribing to the fire-alert topic and printing alerts as they arrive."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any


def format_box(box: dict[str, Any] | None) -> str | None:
    """A box RECORD (fractions of the frame) as 'x_min,y_min-x_max,y_max', or None."""
    if not box:
        return None
    return f"{box['x_min']:.2f},{box['y_min']:.2f}-{box['x_max']:.2f},{box['y_max']:.2f}"


def format_alert(event: dict[str, Any]) -> str:
    if event.get("event") == "drift":  # `firewatch drift run` shares the topic (attribute event=drift)
        return f"[DRIFT ] camera={event.get('camera_id')} metrics={event.get('metrics')} psi={event.get('psi')}"
    line = (
        f"[{event.get('event', '?').upper():6}] camera={event.get('camera_id')} "
        f"alert={event.get('alert_id')} "
        f"fire_frames={event.get('fire_frames')} peak={event.get('peak_probability'):.3f} "
        f"mean={event.get('mean_probability'):.3f} first={event.get('first_frame_at')} "
        f"last={event.get('last_frame_at')}"
    )
    box = format_box(event.get("peak_box"))
    if box:  # where the peak frame fired, fractions of the frame (absent: whole-frame scoring)
        line += f" box={box}"
    if event.get("explanation_uri"):
        line += f" explanation={event['explanation_uri']}"
    return line


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
    path = subscription if subscription.startswith("projects/") else subscriber.subscription_path(project, subscription)
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
