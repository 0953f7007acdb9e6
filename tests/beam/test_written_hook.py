"""The sink tells `firewatch.beam.written`'s listeners which rows were written (issue 22, item 5):
on the local runner the Pub/Sub read listens and acknowledges their messages
(`firewatch.localrun.pubsub.ack_written_rows`); the sink itself never imports the local-runner code."""

from __future__ import annotations

import threading

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from firewatch.beam import sinks, written
from firewatch.cloud.bigquery_rows import Rejected
from firewatch.localrun import pubsub

HEARD: list[list[str]] = []
_LOCK = threading.Lock()


class RefusingWriter:
    """Takes every row except those whose message id starts with 'bad'."""

    def write_or_reject(self, rows, batch_size=500):
        refused = [r for r in rows if r["message_id"].startswith("bad")]
        return [Rejected(dict(r), "invalid: test", "bigquery_rejected") for r in refused]


def listen(rows) -> None:
    with _LOCK:
        HEARD.append(sorted(row["message_id"] for row in rows))


@pytest.fixture(autouse=True)
def hook(monkeypatch):
    HEARD.clear()
    monkeypatch.setattr(written, "_LISTENERS", ())
    monkeypatch.setattr(sinks, "shared_writer", lambda table, validate, attempts: RefusingWriter())


def rows(*ids: str) -> list[dict]:
    return [{"frame_key": f"cam/{m}", "message_id": m} for m in ids]


@pytest.mark.parametrize("ack", [True, False])
def test_listeners_hear_the_written_rows_only_of_a_sink_that_acknowledges(ack):
    written.on_rows_written(listen)
    written.on_rows_written(listen)  # registered once
    with beam.Pipeline("BundleBasedDirectRunner") as pipeline:
        dead = pipeline | beam.Create(rows("m1", "m2", "bad3")) | sinks.WriteToBigQueryRows("p.d.t", ack=ack)
        assert_that(dead | beam.Map(lambda letter: letter["message_id"]), equal_to(["bad3"]))
    heard = sorted(m for batch in HEARD for m in batch)
    assert heard == (["m1", "m2"] if ack else [])


def test_without_a_listener_a_write_tells_nobody():
    written.rows_written(rows("m1"))  # Dataflow: nothing registered, nothing happens
    assert written.listeners() == () and HEARD == []


class FakeSubscriber:
    def __init__(self) -> None:
        self.acked: list[str] = []

    def acknowledge(self, subscription, ack_ids):
        self.acked += ack_ids


def test_the_local_read_acknowledges_the_messages_of_written_rows(monkeypatch):
    monkeypatch.setattr(pubsub, "_TRACKERS", {})
    client = FakeSubscriber()
    tracker = pubsub.tracker_for(client, "projects/p/subscriptions/s", pubsub.ReadSettings())
    try:

        class Received:
            def __init__(self, message_id: str) -> None:
                self.ack_id = f"ack-{message_id}"
                self.message = type("M", (), {"message_id": message_id, "data": b"x", "attributes": {}})()

        tracker.register([Received("m1"), Received("m2"), Received("m3")])
        written.on_rows_written(pubsub.ack_written_rows)  # what install() registers
        written.rows_written(rows("m1", "m3", "unknown"))
        assert sorted(client.acked) == ["ack-m1", "ack-m3"]
        assert tracker.in_flight() == 1 and tracker.acked == 2
    finally:
        tracker.close()
