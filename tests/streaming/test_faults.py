"""Faults on the real emulators, counted: a killed or stopped pipeline, a BigQuery outage.

Each test publishes frames with known frame keys, injects the fault into a running `firewatch
stream` process, and checks that every published frame ends up as a prediction row (or a dead
letter): published = distinct frame keys written + dead letters. Redelivery may repeat a row that
was written but not yet acknowledged when the process died; those duplicates share the frame key,
and `DEDUPED` (docs/faults.md's query) removes them. Frames are scored by the controlled model, so
nothing here depends on the machine.
"""

from __future__ import annotations

import os
import re
import signal
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from firewatch.cloud.clients import publisher_client
from infra import stack
from streaming.local import start_stream, stop_stream
from tests.fixtures.controlled_model import colour_png
from tests.fixtures.streaming_helpers import FrameBatch, count, stream_args, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.faults]

# The de-duplication query of docs/faults.md: one row per frame key (the latest).
DEDUPED = (
    "SELECT COUNT(*) AS n FROM (SELECT frame_key, ROW_NUMBER() OVER "
    "(PARTITION BY frame_key ORDER BY processed_at DESC) AS rn FROM `{table}`) WHERE rn = 1"
)


def frames(cameras: int, per_camera: int, seed: int, start: int = 0) -> FrameBatch:
    """Colour frames for several cameras; every third camera has a fire episode."""
    rng = np.random.default_rng(seed)
    batch = FrameBatch(t0=datetime.now(UTC) - timedelta(minutes=30))
    for c in range(cameras):
        for i in range(start, start + per_camera):
            fire = c % 3 == 0 and 5 <= i % 40 < 15
            batch.frame(f"cam-{c:02d}", i, colour_png(rng, fire=fire, size=32))
    return batch


def publish(names, batch: FrameBatch) -> None:
    publisher = publisher_client()
    topic = publisher.topic_path(names.project, names.frames_topic)
    futures = [publisher.publish(topic, data, **attrs) for data, attrs in batch.messages]
    for future in futures:
        future.result(timeout=60)


def distinct_frames(names) -> int:
    table = f"{names.project}.{names.dataset}.predictions"
    return int(next(iter(_query(f"SELECT COUNT(DISTINCT frame_key) AS n FROM `{table}`")))["n"])


def _query(sql: str):
    from firewatch.cloud.clients import bigquery_client

    return list(bigquery_client().query(sql).result())


def start(names, model_dir, log):
    return start_stream(model_dir, log, [*stream_args(names), "--no-explain", "--drain-seconds", "60"])


def accounted(names) -> tuple[int, int, int, int]:
    """(distinct frames, prediction rows, rows after de-duplication, dead letters)."""
    ds = f"{names.project}.{names.dataset}"
    deduped = int(next(iter(_query(DEDUPED.format(table=f"{ds}.predictions"))))["n"])
    return distinct_frames(names), count(f"{ds}.predictions"), deduped, count(f"{ds}.dead_letters")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_a_pipeline_stopped_mid_stream_and_restarted_loses_no_frame(gcp_resources, controlled_model_dir, tmp_path, sig):
    names = gcp_resources
    batch = frames(cameras=12, per_camera=100, seed=1)
    published = len(batch.messages)
    publish(names, batch)
    first = start(names, controlled_model_dir, tmp_path / "first.log")
    try:
        alive = lambda: first.poll() is None  # noqa: E731
        assert wait_until(lambda: distinct_frames(names) >= 20, time.monotonic() + 180, alive, every=0.2), (
            tmp_path / "first.log"
        ).read_text()[-3000:]
        os.killpg(first.pid, sig)  # mid-stream: most frames are pulled or waiting
        first.wait(timeout=120)
    finally:
        stop_stream(first)
    before = distinct_frames(names)
    second = start(names, controlled_model_dir, tmp_path / "second.log")
    try:
        alive = lambda: second.poll() is None  # noqa: E731
        wait_until(lambda: distinct_frames(names) >= published, time.monotonic() + 240, alive)
    finally:
        stopped = stop_stream(second)
    frames_written, rows, deduped, dead = accounted(names)
    log = (tmp_path / "first.log").read_text()[-2000:] + (tmp_path / "second.log").read_text()[-2000:]
    assert (frames_written, dead) == (published, 0), log
    assert deduped == published and rows >= published and stopped
    if sig == signal.SIGKILL:
        assert before < published, "the kill came too late to test anything"
    else:  # a clean stop drains what it pulled (then nothing is redelivered) and pulls no more
        first_log = (tmp_path / "first.log").read_text()
        in_flight = int(re.search(r"draining (\d+) message", first_log).group(1))
        assert "stopping" in first_log and "drained" in first_log, first_log[-2000:]
        assert in_flight > 0 or before < published, "the stop came too late to test anything"
        assert rows == published


def test_a_bigquery_outage_is_waited_out(gcp_resources, controlled_model_dir, tmp_path):
    names = gcp_resources
    before, during = frames(cameras=4, per_camera=30, seed=2), frames(cameras=4, per_camera=30, seed=3, start=30)
    published = len(before.messages) + len(during.messages)
    process = start(names, controlled_model_dir, tmp_path / "stream.log")
    alive = lambda: process.poll() is None  # noqa: E731
    try:
        publish(names, before)
        assert wait_until(lambda: distinct_frames(names) >= 20, time.monotonic() + 180, alive)
        stack.stop_service("bigquery")
        try:
            publish(names, during)
            time.sleep(60)  # a minute without BigQuery: the writer retries, Pub/Sub keeps the rest
            assert alive(), (tmp_path / "stream.log").read_text()[-3000:]
        finally:
            stack.start_service("bigquery")
        wait_until(lambda: distinct_frames(names) >= published, time.monotonic() + 240, alive)
        assert alive()
    finally:
        stop_stream(process)
    frames_written, rows, deduped, dead = accounted(names)
    log = (tmp_path / "stream.log").read_text()
    assert (frames_written, dead) == (published, 0), log[-3000:]  # nothing lost, nothing dead-lettered
    assert deduped == published
    assert "failed (attempt" in log  # the outage was seen and retried, not skipped
