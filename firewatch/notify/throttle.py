"""Whether an alert's event is sent now: every open and close, at most one update per interval.

`UpdateGate` remembers, per alert, the event time of the last message sent (the open counts):
an update is sent only when `interval` has passed since then in event time, so the result does not
depend on when the subscriber happens to run. An update of an alert already closed is not sent.
Events are also de-duplicated (a Pub/Sub redelivery of a message already handled). The memory is
bounded (`max_alerts` alerts, oldest forgotten first). Thread-safe: the pull subscriber calls it
from several threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime, timedelta

ENDS = ("close", "stale")


class UpdateGate:
    def __init__(self, interval: timedelta, max_alerts: int = 10_000) -> None:
        self.interval = interval
        self.max_alerts = max_alerts
        self._last_sent: OrderedDict[str, datetime] = OrderedDict()
        self._closed: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def decide(self, alert_id: str, event: str, event_time: datetime) -> tuple[bool, str]:
        """(send?, why): opens and ends always; an update once `interval` has passed since the
        last message sent for the alert. Marks the message as sent when it says send."""
        with self._lock:
            if event == "update":
                if alert_id in self._closed:
                    return False, "the alert is already closed"
                last = self._last_sent.get(alert_id)
                if last is not None and last == event_time:  # this very update again (a redelivery)
                    return True, "update"
                if last is not None and event_time - last < self.interval:
                    wait = self.interval - (event_time - last)
                    return False, f"throttled: next update for this alert in {wait.total_seconds():.0f} s"
                self._remember(self._last_sent, alert_id, event_time)
                return True, "update"
            if event in ENDS:
                self._last_sent.pop(alert_id, None)
                self._remember(self._closed, alert_id, None)
                return True, event
            if event == "open":
                self._remember(self._last_sent, alert_id, event_time)
            return True, event

    def _remember(self, table: OrderedDict, key: str, value) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self.max_alerts:
            table.popitem(last=False)


class Delivered:
    """Bounded memory of (message key, channel) pairs already delivered, so a redelivered message
    is not sent again to a channel that already has it."""

    def __init__(self, limit: int = 50_000) -> None:
        self.limit = limit
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._lock = threading.Lock()

    def has(self, key: str, channel: str) -> bool:
        with self._lock:
            return (key, channel) in self._seen

    def add(self, key: str, channel: str) -> None:
        with self._lock:
            self._seen[(key, channel)] = None
            while len(self._seen) > self.limit:
                self._seen.popitem(last=False)
