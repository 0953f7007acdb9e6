"""The live alert feed: one streaming pull on the console's alerts subscription, fanned out to
every open page as server-sent events.

The Pub/Sub callback runs on the client's threads; each connected page has an asyncio queue,
fed with `loop.call_soon_threadsafe`. Recent events are kept (bounded) for pages opened later.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import deque
from typing import Any

from firewatch.core.alerts import AlertEvent, parse_event

_LOG = logging.getLogger(__name__)
QUEUE_SIZE = 200


def sse_message(event: dict[str, Any], name: str = "alert") -> str:
    """One server-sent event: `event: NAME` + `data: JSON` (one line) + blank line."""
    return f"event: {name}\ndata: {json.dumps(event, sort_keys=True, default=str)}\n\n"


def parse_alert(data: bytes) -> dict[str, Any] | None:
    """An alert message's event as its row (`firewatch.core.alerts.AlertEvent`), or None when it is not
    a fire alert (camera health, drift, or not an event at all: acked, never shown)."""
    event = parse_event(data)
    return event.row() if isinstance(event, AlertEvent) else None


class AlertFeed:
    def __init__(self, subscription_path: str, keep: int = 100) -> None:
        self.subscription_path = subscription_path
        self.recent: deque[dict[str, Any]] = deque(maxlen=keep)
        self._listeners: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = set()
        self._lock = threading.Lock()
        self._future: Any = None
        self._subscriber: Any = None

    def start(self) -> None:
        from firewatch.cloud.clients import subscriber_client

        self._subscriber = subscriber_client()
        self._future = self._subscriber.subscribe(self.subscription_path, callback=self._on_message)

    def stop(self) -> None:
        if self._future is not None:
            self._future.cancel()
            try:
                self._future.result(timeout=10)
            except Exception:  # noqa: BLE001 - cancelled on purpose
                pass
        if self._subscriber is not None:
            self._subscriber.close()

    def _on_message(self, message: Any) -> None:
        message.ack()
        event = parse_alert(message.data)
        if event is None:
            _LOG.warning("ignored a message on %s that is not an alert event", self.subscription_path)
            return
        self.publish(event)

    def publish(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.recent.appendleft(event)
            listeners = list(self._listeners)
        for loop, queue in listeners:
            loop.call_soon_threadsafe(_offer, queue, event)

    def listen(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(QUEUE_SIZE)
        with self._lock:
            self._listeners.add((asyncio.get_running_loop(), queue))
        return queue

    def unlisten(self, queue: asyncio.Queue) -> None:
        with self._lock:
            self._listeners = {item for item in self._listeners if item[1] is not queue}


def _offer(queue: asyncio.Queue, event: dict[str, Any]) -> None:
    if queue.full():  # a page that stopped reading loses its oldest event, never blocks the feed
        queue.get_nowait()
    queue.put_nowait(event)
