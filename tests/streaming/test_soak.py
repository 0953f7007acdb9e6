"""Soak: a bounded run at a steady rate on the emulators, memory sampled, counted at the end.

`FIREWATCH_SOAK_SECONDS` (default 600) of publishing: 8 steady cameras at 2 fps (every other one
with a fire episode each minute) plus cameras with random ids that send a few frames and go away.
At the end: every published frame is a row (published = distinct frame keys), every alert that
opened has ended (close, or stale for a camera that went silent), the state of every camera that
went away was released, and the pipeline's memory shows no growth trend. Run by `make soak`
(part of CI: `.ci/run`), not by the default `make test`.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from firewatch.cloud.clients import publisher_client
from infra import procs
from streaming.local import start_stream, stop_stream
from tests.fixtures.controlled_model import colour_png
from tests.fixtures.streaming_helpers import rows, stream_args, wait_until
from tests.streaming.test_faults import distinct_frames

pytestmark = [pytest.mark.stack, pytest.mark.soak]
SECONDS = float(os.environ.get("FIREWATCH_SOAK_SECONDS", "600"))
STEADY, FPS, STALE = 8, 2, 20


def rss_mb(pgid: int) -> float:
    total = 0
    for pid in procs.group_members(pgid):
        try:
            status = open(f"/proc/{pid}/status").read()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total / 1024


def publish_steadily(names, seconds: float, stop: threading.Event) -> tuple[int, set[str]]:
    """Frames at a steady rate; returns (frames published, random camera ids that came and went)."""
    publisher = publisher_client()
    topic = publisher.topic_path(names.project, names.frames_topic)
    rng = np.random.default_rng(5)
    fire, clear = colour_png(rng, fire=True, size=32), colour_png(rng, fire=False, size=32)
    t0, begun = datetime.now(UTC), time.monotonic()
    published, transient, futures, tick = 0, set(), [], 0
    while time.monotonic() - begun < seconds and not stop.is_set():
        captured = t0 + timedelta(seconds=tick / FPS)
        stamp = captured.isoformat().replace("+00:00", "Z")
        for c in range(STEADY):
            burning = c % 2 == 0 and 10 <= (tick / FPS) % 60 < 20  # a 10 s fire episode each minute
            attrs = {"camera_id": f"steady-{c}", "frame_id": f"steady-{c}-{tick}", "captured_at": stamp}
            futures.append(publisher.publish(topic, fire if burning else clear, **attrs))
            published += 1
        if tick % FPS == 0:  # one camera that appears once and goes away, every second
            camera = f"rnd-{uuid.uuid4().hex[:10]}"
            transient.add(camera)
            for i in range(3):
                attrs = {"camera_id": camera, "frame_id": f"{camera}-{i}", "captured_at": stamp}
                futures.append(publisher.publish(topic, clear, **attrs))
                published += 1
        tick += 1
        time.sleep(max(0.0, begun + tick / FPS - time.monotonic()))
        if len(futures) > 500:
            [f.result(timeout=60) for f in futures]
            futures = []
    [f.result(timeout=60) for f in futures]
    return published, transient


@pytest.mark.timeout(int(SECONDS) + 900)
def test_soak_steady_rate_many_cameras(gcp_resources, controlled_model_dir, tmp_path):
    names = gcp_resources
    log = tmp_path / "stream.log"
    flags = stream_args(names, confirm_stale_seconds=str(STALE), confirm_clear_seconds="5")
    process = start_stream(controlled_model_dir, log, [*flags, "--no-explain"])
    alive = lambda: process.poll() is None  # noqa: E731
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        begun = time.monotonic()
        while not stop.wait(10):
            samples.append((time.monotonic() - begun, rss_mb(process.pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        published, transient = publish_steadily(names, SECONDS, stop)
        wait_until(lambda: distinct_frames(names) >= published, time.monotonic() + 300, alive)
        time.sleep(STALE + 15)  # the last cameras go silent: their alerts end, their state is released
        assert alive(), log.read_text()[-3000:]
    finally:
        stop.set()
        stop_stream(process)
    text = log.read_text()
    ds = f"{names.project}.{names.dataset}"
    events = rows(f"SELECT alert_id, camera_id, event FROM `{ds}.alerts`")
    opened = {e["alert_id"] for e in events if e["event"] == "open"}
    ended = {e["alert_id"] for e in events if e["event"] in ("close", "stale")}
    released = {line.split("camera ", 1)[1].split(" ", 1)[0] for line in text.splitlines() if "state released" in line}
    print(f"\nsoak: {published} frames, {len(transient)} transient cameras, {len(opened)} alerts")
    print("soak: RSS MB over time:", [(round(t), round(m)) for t, m in samples])

    assert distinct_frames(names) == published  # every frame is a row
    assert opened and opened == ended, f"stuck alerts: {opened - ended}"  # none left open
    assert transient <= released, f"{len(transient - released)} departed cameras kept their state"
    assert {e["camera_id"] for e in events} <= {f"steady-{c}" for c in range(0, STEADY, 2)}  # only fire cameras
    tail = [m for t, m in samples if t > SECONDS / 2]
    middle = [m for t, m in samples if SECONDS / 4 < t <= SECONDS / 2]
    assert tail and middle and max(tail) <= max(middle) * 1.15 + 50, "memory keeps growing"
