"""Pub/Sub on Beam's local runner: acknowledge a frame only after its row is written.

Beam 2.77's local runner (`BundleBasedDirectRunner`) reads Pub/Sub in
`_PubSubReadEvaluator._read_from_pubsub`: it pulls at most 10 messages (30 s blocking pull) and
acknowledges them at once, before any transform has run, so whatever was pulled is lost if the
process dies. Dataflow acknowledges only after its durable checkpoint. `install()` replaces that
one method, for the local runner only, with a read that

* pulls up to `max_messages` per read (the emulator and Pub/Sub return at most 100 a call,
  `return_immediately`: an idle subscription never blocks the runner's timers);
* acknowledges nothing: every message is registered in the process's `AckTracker` as in flight,
  its lease extended in the background, and acknowledged when the sinks have written the
  message's prediction or dead-letter row (`ack_written_rows`, called by the BigQuery sink);
* stops pulling when `max_in_flight` messages are unacknowledged (flow control, e.g. while
  BigQuery is down) or when a stop was requested (`AckTracker.stop_pulling`, so a clean stop
  drains what it pulled).

A crash or kill loses nothing: unacknowledged messages are redelivered when their lease runs out.
Redelivery can repeat a row that was written but not yet acknowledged; rows carry the frame key and
message id (BigQuery de-duplicates their insertIds; on the emulator a query removes them: docs/faults.md).
The sink reaches `ack_written_rows` through `firewatch.beam.written`, where `install()` registers it;
on Dataflow none of this is installed or imported (`firewatch.localrun`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from google.api_core.exceptions import NotFound, ResourceExhausted

from firewatch.beam.written import on_rows_written

_LOG = logging.getLogger(__name__)
PULL_LIMIT = 100  # messages per pull request (the service's own cap)
# A pull response must fit the client's gRPC receive limit: the number of messages per pull follows
# the largest message seen so far, starting small. (On the emulator the library's channel keeps
# gRPC's 4 MiB default; `pull_client` gives the read one without that limit.)
RESPONSE_BYTES = 3 * 1024 * 1024
FIRST_PULL = 8


@dataclass(frozen=True)
class ReadSettings:
    max_messages: int = 500  # per read, i.e. per bundle the runner gets from the source
    max_in_flight: int = 2000  # unacknowledged messages before pulling pauses
    lease_seconds: int = 60  # ack deadline set on each lease extension
    extend_every: float = 15.0  # seconds between lease extensions
    max_lease_seconds: float = 3600.0  # after this a message is released (redelivered)
    idle_sleep: float = 0.05  # pause after an empty pull, so an idle read does not spin


class AckTracker:
    """The messages this process pulled and has not acknowledged yet, by message id."""

    def __init__(self, client: Any, subscription: str, settings: ReadSettings) -> None:
        self.client, self.subscription, self.settings = client, subscription, settings
        self._lock = threading.Lock()
        self._in_flight: dict[str, tuple[str, float]] = {}  # message id -> (ack id, pulled at)
        self._stop = threading.Event()
        self._pulling = threading.Event()
        self._pulling.set()
        self.acked = 0
        # liveness (wall-clock epoch seconds): the last pull that answered, the last acknowledgement
        self.last_pull_at: float | None = None
        self.last_ack_at: float | None = None
        self.largest_message = 0  # bytes, of any message pulled so far (sizes each pull request)
        self._lease = threading.Thread(target=self._extend_leases, name="firewatch-lease", daemon=True)
        self._lease.start()

    # -- the read side -------------------------------------------------------------------------

    def register(self, received: Iterable[Any]) -> None:
        now = time.monotonic()
        with self._lock:
            for message in received:
                self._in_flight[message.message.message_id] = (message.ack_id, now)
                self.largest_message = max(self.largest_message, message_bytes(message.message))

    def pull_size(self) -> int:
        """Messages per pull request: as many as fit RESPONSE_BYTES at the largest size seen."""
        if not self.largest_message:
            return FIRST_PULL
        return max(1, min(PULL_LIMIT, RESPONSE_BYTES // self.largest_message))

    def room(self) -> int:
        with self._lock:
            return max(0, self.settings.max_in_flight - len(self._in_flight))

    @property
    def pulling(self) -> bool:
        return self._pulling.is_set()

    def stop_pulling(self) -> None:
        self._pulling.clear()

    # -- the sink side -------------------------------------------------------------------------

    def ack(self, message_ids: Iterable[str]) -> int:
        with self._lock:
            ack_ids = [self._in_flight.pop(m)[0] for m in set(message_ids) if m in self._in_flight]
        for start in range(0, len(ack_ids), 1000):
            self.client.acknowledge(subscription=self.subscription, ack_ids=ack_ids[start : start + 1000])
        with self._lock:
            self.acked += len(ack_ids)
            if ack_ids:
                self.last_ack_at = time.time()
        return len(ack_ids)

    def in_flight(self) -> int:
        with self._lock:
            return len(self._in_flight)

    def wait_drained(self, timeout: float) -> bool:
        """True once every pulled message is acknowledged (call after `stop_pulling`)."""
        deadline = time.monotonic() + timeout
        while self.in_flight() and time.monotonic() < deadline:
            time.sleep(0.1)
        return not self.in_flight()

    def close(self) -> None:
        self._stop.set()

    def _extend_leases(self) -> None:
        while not self._stop.wait(self.settings.extend_every):
            now = time.monotonic()
            with self._lock:
                expired = [m for m, (_, t) in self._in_flight.items() if now - t > self.settings.max_lease_seconds]
                for message_id in expired:  # released: Pub/Sub redelivers it
                    self._in_flight.pop(message_id)
                ack_ids = [ack_id for ack_id, _ in self._in_flight.values()]
            if expired:
                _LOG.warning(
                    "released %d message(s) held longer than %.0f s", len(expired), self.settings.max_lease_seconds
                )
            for start in range(0, len(ack_ids), 1000):
                try:
                    self.client.modify_ack_deadline(
                        subscription=self.subscription,
                        ack_ids=ack_ids[start : start + 1000],
                        ack_deadline_seconds=self.settings.lease_seconds,
                    )
                except Exception as exc:  # noqa: BLE001 - a missed extension means a redelivery, not a loss
                    _LOG.warning("could not extend %d lease(s): %s", len(ack_ids), exc)


_TRACKERS: dict[str, AckTracker] = {}
_TRACKERS_LOCK = threading.Lock()


def tracker_for(client: Any, subscription: str, settings: ReadSettings) -> AckTracker:
    with _TRACKERS_LOCK:
        if subscription not in _TRACKERS:
            _TRACKERS[subscription] = AckTracker(client, subscription, settings)
        return _TRACKERS[subscription]


def trackers() -> list[AckTracker]:
    with _TRACKERS_LOCK:
        return list(_TRACKERS.values())


def ack_written_rows(rows: Iterable[Mapping[str, Any]]) -> int:
    """Acknowledge the messages whose rows were just written (no-op where nothing is tracked)."""
    active = trackers()
    if not active:
        return 0
    message_ids = [row["message_id"] for row in rows if row.get("message_id")]
    return sum(tracker.ack(message_ids) for tracker in active)


_PULL_CLIENT: Any = None


def pull_client(default: Any) -> Any:
    """The client the read pulls and acknowledges with: `default` (Beam's), except on the emulator,
    where the library opens a plain channel with gRPC's 4 MiB receive limit (a pull of 100 frames of
    65 KB failed with "Received message larger than max"): there, one client per process on a
    channel without that limit, as the library's own channel to Pub/Sub has."""
    global _PULL_CLIENT
    host = os.environ.get("PUBSUB_EMULATOR_HOST")
    if not host:
        return default
    with _TRACKERS_LOCK:
        if _PULL_CLIENT is None:
            import grpc
            from google.cloud import pubsub_v1
            from google.pubsub_v1.services.subscriber.transports.grpc import SubscriberGrpcTransport

            options = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]
            channel = grpc.insecure_channel(host, options=options)
            _PULL_CLIENT = pubsub_v1.SubscriberClient(transport=SubscriberGrpcTransport(channel=channel))
        return _PULL_CLIENT


def message_bytes(message: Any) -> int:
    """About what a message takes in a pull response: data, attributes and a fixed overhead."""
    return len(message.data) + sum(len(k) + len(v) for k, v in message.attributes.items()) + 128


def pull(client: Any, subscription: str, tracker: AckTracker) -> list[Any]:
    """Received messages, up to the read's and the flow control's limits; registered as in flight."""
    received: list[Any] = []
    want = min(tracker.settings.max_messages, tracker.room()) if tracker.pulling else 0
    while len(received) < want:
        batch = min(tracker.pull_size(), want - len(received))
        try:
            response = client.pull(subscription=subscription, max_messages=batch, return_immediately=True, timeout=30)
        except ResourceExhausted as exc:
            # The response was larger than the channel accepts: its messages are redelivered when
            # their ack deadline runs out (nothing is lost); ask for fewer from now on.
            if batch == 1 or "larger than max" not in str(exc):
                raise
            tracker.largest_message = max(tracker.largest_message, RESPONSE_BYTES // max(1, batch // 2))
            _LOG.warning("a pull of %d messages was too large for the channel; pulling %d", batch, batch // 2)
            continue
        tracker.register(response.received_messages)
        tracker.last_pull_at = time.time()
        received += response.received_messages
        if len(response.received_messages) < batch:
            break
    if not received:
        time.sleep(tracker.settings.idle_sleep)
    return received


_FATAL: list[str] = []


def report_fatal(message: str) -> None:
    """Record a condition the local job cannot recover from (the runner's loop ends the job on it)."""
    with _TRACKERS_LOCK:
        if message not in _FATAL:
            _FATAL.append(message)
            _LOG.error("%s", message)


def fatal() -> str | None:
    """The first fatal condition recorded in this process, if any."""
    with _TRACKERS_LOCK:
        return _FATAL[0] if _FATAL else None


def install(settings: ReadSettings = ReadSettings()) -> None:
    """Replace the local runner's Pub/Sub read (this process only) with `pull` + ack-after-write."""
    from apache_beam.io.gcp.pubsub import PubsubMessage
    from apache_beam.runners.direct import transform_evaluator as evaluators
    from apache_beam.utils.timestamp import Timestamp

    def read_from_pubsub(self: Any, timestamp_attribute: str | None) -> list[tuple[Timestamp, PubsubMessage]]:
        client = pull_client(self._get_subscriber_client(self._applied_ptransform))
        tracker = tracker_for(client, self._sub_name, settings)
        results = []
        try:
            pulled = pull(client, self._sub_name, tracker)
        except NotFound:
            # Deleted while the job ran (a missing one is caught before start, streaming.preflight):
            # no traceback per retry; the runner's loop ends the job with this one line.
            report_fatal(f"subscription {self._sub_name} does not exist (deleted while the job was running?)")
            time.sleep(settings.idle_sleep)
            return []
        for received in pulled:
            message = PubsubMessage._from_message(received.message)
            attribute = message.attributes.get(timestamp_attribute) if timestamp_attribute else None
            timestamp = (
                Timestamp.from_rfc3339(attribute)
                if attribute
                else Timestamp.from_utc_datetime(received.message.publish_time)
            )
            results.append((timestamp, message))
        return results

    evaluators._PubSubReadEvaluator._read_from_pubsub = read_from_pubsub
    on_rows_written(ack_written_rows)
