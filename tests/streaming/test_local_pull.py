"""The local runner's Pub/Sub read on the emulator: large frames never make a pull response too
large for the client's channel (the library's emulator channel keeps gRPC's 4 MiB limit: a pull of
100 frames of 65 KB failed), and every message is pulled exactly once and acknowledged."""

from __future__ import annotations

import time
import uuid

import pytest

from firewatch.cloud.clients import publisher_client, subscriber_client
from firewatch.localrun import pubsub as local_pubsub

pytestmark = pytest.mark.stack

FRAME_BYTES = 600_000
FRAMES = 24  # 14 MB in all: one pull of them all would be far over 4 MiB


@pytest.fixture
def subscription(local_stack):
    publisher, subscriber = publisher_client(), subscriber_client()
    suffix = uuid.uuid4().hex[:8]
    topic = publisher.topic_path(local_stack.project, f"pull-{suffix}")
    path = subscriber.subscription_path(local_stack.project, f"pull-{suffix}")
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=path, topic=topic, ack_deadline_seconds=60)
    try:
        yield publisher, subscriber, topic, path
    finally:
        subscriber.delete_subscription(subscription=path)
        publisher.delete_topic(topic=topic)


def test_large_frames_are_pulled_in_responses_that_fit(subscription) -> None:
    publisher, subscriber, topic, path = subscription
    futures = [publisher.publish(topic, bytes([i]) * FRAME_BYTES, frame=str(i)) for i in range(FRAMES)]
    for future in futures:
        future.result(timeout=60)
    client = local_pubsub.pull_client(subscriber)
    assert client is not subscriber  # on the emulator: the read's own channel
    tracker = local_pubsub.AckTracker(client, path, local_pubsub.ReadSettings())
    try:
        received = []
        deadline = time.monotonic() + 30  # a failed response would only come back after 60 s
        while len(received) < FRAMES and time.monotonic() < deadline:
            received += local_pubsub.pull(client, path, tracker)
        frames = sorted(int(r.message.attributes["frame"]) for r in received)
        assert frames == list(range(FRAMES))  # each once, none lost to a failed response
        assert tracker.largest_message >= FRAME_BYTES
        assert tracker.pull_size() * tracker.largest_message <= local_pubsub.RESPONSE_BYTES
        assert tracker.in_flight() == FRAMES
        assert tracker.ack([r.message.message_id for r in received]) == FRAMES
        assert tracker.in_flight() == 0
    finally:
        tracker.close()


def test_pull_size_follows_the_largest_message() -> None:
    tracker = local_pubsub.AckTracker(None, "unused", local_pubsub.ReadSettings())
    try:
        assert tracker.pull_size() == local_pubsub.FIRST_PULL
        tracker.largest_message = 10_000
        assert tracker.pull_size() == local_pubsub.PULL_LIMIT
        tracker.largest_message = 65_000
        assert tracker.pull_size() == local_pubsub.RESPONSE_BYTES // 65_000
        tracker.largest_message = 10 * 1024 * 1024
        assert tracker.pull_size() == 1
    finally:
        tracker.close()
