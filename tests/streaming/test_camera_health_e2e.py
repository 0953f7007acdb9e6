"""Camera health and day/night end to end: `firewatch stream` on the emulators.

Cameras publish a frame a minute of frame time (captured_at), all at once, so minutes of a camera's
life take seconds: a frozen camera (live, then the same picture, then live again), a black one, a
moved one (one scene, then another), a dark one with detail (night), a live one, and two dark
cameras with a red light the controlled model scores as fire (`tests/fixtures/controlled_model.py`),
one of which has its own night threshold. The tests check the camera-health events on the alerts
topic (event=camera_health) and in the camera_health table, exactly one per change of state, the
console's camera board, the day/night period of every row, and that the camera's night threshold
changes its night frames' labels only.
"""

from __future__ import annotations

import io
import json
import re
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from PIL import Image

from firewatch.cloud.clients import publisher_client, subscriber_client
from infra import resources
from streaming.local import start_stream, stop_stream
from tests.fixtures.console_seed import console_config
from tests.fixtures.streaming_helpers import FrameBatch, count, rows, stream_args, wait_until

pytestmark = pytest.mark.stack
MINUTE = 60


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def scene(seed: int, noise_seed: int, gain: float = 1.0) -> bytes:
    """A blocky landscape (the scene of `seed`, blue-tinted: clear for the model) with sensor noise."""
    base = np.random.default_rng(seed).integers(40, 200, (9, 16, 1)).astype(np.float64) * [0.7, 0.9, 1.0]
    picture = np.kron(base, np.ones((10, 10, 1))) * gain
    picture += np.random.default_rng(noise_seed).normal(0, 10, picture.shape)
    return png(np.clip(picture, 0, 255).astype(np.uint8))


def red_light(noise_seed: int, level: float) -> bytes:
    """A red-dominant frame: fire for the controlled model (p ~0.92 when dark, ~1.0 when bright)."""
    rng = np.random.default_rng(noise_seed)
    red = rng.normal(255 * level, 8, (90, 160))
    picture = np.stack([red, rng.normal(10, 4, (90, 160)), np.zeros((90, 160))], axis=-1)
    return png(np.clip(picture, 0, 255).astype(np.uint8))


BLACK = png(np.zeros((90, 160, 3), np.uint8))


def frame(batch: FrameBatch, camera: str, minute: int, data: bytes) -> None:
    captured = (batch.t0 + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")
    batch.messages.append((data, {"camera_id": camera, "frame_id": f"{camera}-{minute:03d}", "captured_at": captured}))


def cameras(batch: FrameBatch) -> None:
    frozen_picture = scene(1, 500)
    for m in range(3):
        frame(batch, "cam-frozen", m, scene(1, m))
    for m in range(3, 9):
        frame(batch, "cam-frozen", m, frozen_picture)  # a cached snapshot: the same bytes each minute
    for m in range(9, 12):
        frame(batch, "cam-frozen", m, scene(1, m))
    for m in range(2):
        frame(batch, "cam-black", m, scene(2, m))
    for m in range(2, 9):
        frame(batch, "cam-black", m, BLACK)
    for m in range(5):
        frame(batch, "cam-moved", m, scene(3, m))
    for m in range(5, 12):
        frame(batch, "cam-moved", m, scene(4, m))  # turned: another view
    for m in range(8):
        frame(batch, "cam-night", m, scene(5, m, gain=0.2))  # dark, but the scene is still there
    for m in range(10):
        frame(batch, "cam-live", m, scene(6, m))
    for camera in ("cam-redlight", "cam-redlight-own"):
        for m in range(4):
            frame(batch, camera, m, red_light(m, 0.3))  # night: dark red
        for m in range(4, 6):
            frame(batch, camera, m, red_light(m, 0.9))  # day: bright red


EXPECTED = {
    "cam-frozen": ["frozen", "healthy"],
    "cam-black": ["blind"],
    "cam-moved": ["moved"],
    "cam-night": ["night"],
    "cam-live": [],
}


def pull_and_ack(project: str, subscription: str, quiet_pulls: int = 2) -> list:
    """Every message on the subscription, acknowledged, until `quiet_pulls` pulls come back empty."""
    subscriber = subscriber_client()
    path = subscriber.subscription_path(project, subscription)
    messages, empty = [], 0
    while empty < quiet_pulls:
        pulled = subscriber.pull(subscription=path, max_messages=100, timeout=10).received_messages
        if not pulled:
            empty += 1
            continue
        messages += [m.message for m in pulled]
        subscriber.acknowledge(subscription=path, ack_ids=[m.ack_id for m in pulled])
    return messages


@pytest.fixture(scope="module")
def health_run(local_stack, controlled_model_dir, tmp_path_factory):
    names = resources.ResourceNames(project=local_stack.project).with_suffix(uuid.uuid4().hex[:8])
    resources.apply(names)
    dataset = f"{names.project}.{names.dataset}"
    batch = FrameBatch(t0=(datetime.now(UTC) - timedelta(hours=3)).replace(second=0, microsecond=0))
    cameras(batch)
    log = tmp_path_factory.mktemp("stream") / "stream.log"
    extra = stream_args(
        names,
        camera_health_table=names.camera_health_table,
        health_reorder_seconds="180",
        night_camera_thresholds="cam-redlight-own=0.95",
        explain="false",
    )
    process = start_stream(controlled_model_dir, log, extra)
    alive = lambda: process.poll() is None  # noqa: E731
    deadline = time.monotonic() + 420
    try:
        publisher = publisher_client()
        topic = publisher.topic_path(names.project, names.frames_topic)
        for data, attrs in batch.messages:
            publisher.publish(topic, data, **attrs).result(timeout=30)
        wait_until(lambda: count(f"{dataset}.predictions") >= len(batch.messages), deadline, alive)
        # The last frames of each camera wait in the reorder buffer until the flush timer counts them.
        wanted = sum(len(states) for states in EXPECTED.values())
        health_table = f"{dataset}.{names.camera_health_table}"
        wait_until(lambda: count(health_table, "camera_id IN UNNEST(['cam-frozen', 'cam-black', 'cam-moved', "
                                 "'cam-night', 'cam-live'])") >= wanted and count(health_table, "camera_id = "
                                 "'cam-frozen' AND state = 'healthy'") >= 1, deadline, alive)  # fmt: skip
        time.sleep(5)  # anything more (a duplicate) would have landed by now
        messages = pull_and_ack(names.project, names.alerts_subscription)
        board = board_page(names)
    finally:
        stopped = stop_stream(process)
    yield {
        "names": names,
        "dataset": dataset,
        "published": len(batch.messages),
        "messages": messages,
        "board": board,
        "stopped": stopped,
        "log": log,
        "t0": batch.t0,
    }
    resources.destroy(names)


def board_page(names: resources.ResourceNames) -> str:
    from fastapi.testclient import TestClient

    from firewatch.console.app import create_app
    from firewatch.console.store import ConsoleStore

    config = console_config(names, live=False)
    with TestClient(create_app(config, ConsoleStore(config, names.project)), base_url="http://127.0.0.1:8080") as c:
        response = c.get("/cameras")
    assert response.status_code == 200, response.text[:500]
    return response.text


def health_rows(run) -> list[dict]:
    return rows(
        f"SELECT camera_id, state, previous_state, frame_time, condition_since, frame_key, reason "
        f"FROM `{run['dataset']}.{run['names'].camera_health_table}` ORDER BY camera_id, frame_time"
    )


def test_every_frame_was_scored(health_run):
    assert count(f"{health_run['dataset']}.predictions") == health_run["published"]


def test_health_events_on_the_alerts_topic_one_per_change_of_state(health_run):
    health = [m for m in health_run["messages"] if m.attributes.get("event") == "camera_health"]
    by_camera: dict[str, list[tuple[str, str]]] = {}
    for message in sorted(health, key=lambda m: json.loads(m.data)["frame_time"] or ""):
        body = json.loads(message.data)
        assert message.attributes["camera_id"] == body["camera_id"]
        assert message.attributes["state"] == body["state"] == body["event"]
        by_camera.setdefault(body["camera_id"], []).append(body["state"])
    for camera, states in EXPECTED.items():
        assert by_camera.get(camera, []) == states, (camera, by_camera.get(camera))


def test_health_events_in_the_camera_health_table_exactly_once(health_run):
    found = health_rows(health_run)
    by_camera: dict[str, list[str]] = {}
    for row in found:
        by_camera.setdefault(row["camera_id"], []).append(row["state"])
    for camera, states in EXPECTED.items():
        assert by_camera.get(camera, []) == states, (camera, by_camera.get(camera))
    assert max(Counter((r["camera_id"], r["state"], r["frame_key"]) for r in found).values()) == 1


def test_a_frozen_camera_is_frozen_within_five_minutes_of_frame_time(health_run):
    frozen = next(r for r in health_rows(health_run) if r["camera_id"] == "cam-frozen" and r["state"] == "frozen")
    froze_at = health_run["t0"] + timedelta(minutes=3)  # the first copy of the cached picture
    assert frozen["condition_since"] == froze_at
    assert timedelta(0) < frozen["frame_time"] - froze_at <= timedelta(minutes=5)
    healthy = next(r for r in health_rows(health_run) if r["camera_id"] == "cam-frozen" and r["state"] == "healthy")
    assert healthy["previous_state"] == "frozen" and healthy["frame_key"] == "cam-frozen/cam-frozen-009"


def test_the_board_shows_each_cameras_health_and_last_frame(health_run):
    page = health_run["board"]
    for camera, state in [
        ("cam-frozen", "healthy"),
        ("cam-black", "blind"),
        ("cam-moved", "moved"),
        ("cam-night", "night"),
        ("cam-live", "healthy"),
    ]:
        row = re.search(rf'<tr id="camera-{camera}">(.*?)</tr>', page, re.S)
        assert row, camera
        assert f'class="tag health-{state}"' in row.group(1), (camera, row.group(1))
        last = (health_run["t0"] + timedelta(minutes={"cam-frozen": 11, "cam-black": 8, "cam-moved": 11,
                                                      "cam-night": 7, "cam-live": 9}[camera]))  # fmt: skip
        assert last.strftime("%Y-%m-%d %H:%M") in row.group(1), (camera, row.group(1))


def test_every_row_records_day_or_night(health_run):
    ds = health_run["dataset"]
    assert count(f"{ds}.predictions", "period IS NULL OR period NOT IN ('day', 'night')") == 0
    assert count(f"{ds}.predictions", "camera_id = 'cam-night' AND period = 'night'") == 8
    assert count(f"{ds}.predictions", "camera_id = 'cam-live' AND period = 'day'") == 10
    assert count(f"{ds}.predictions", "camera_id = 'cam-black' AND period = 'night'") == 7


def test_a_cameras_night_threshold_changes_its_night_frames_labels_only(health_run):
    judged = rows(
        f"SELECT camera_id, period, threshold, label, COUNT(*) AS n FROM `{health_run['dataset']}.predictions` "
        "WHERE camera_id IN ('cam-redlight', 'cam-redlight-own') GROUP BY camera_id, period, threshold, label"
    )
    assert sorted((r["camera_id"], r["period"], r["threshold"], r["label"], r["n"]) for r in judged) == [
        ("cam-redlight", "day", 0.5, "fire", 2),
        ("cam-redlight", "night", 0.5, "fire", 4),
        ("cam-redlight-own", "day", 0.5, "fire", 2),
        ("cam-redlight-own", "night", 0.95, "no_fire", 4),
    ]


def test_the_job_stopped_cleanly(health_run):
    assert health_run["stopped"], health_run["log"].read_text()[-3000:]
