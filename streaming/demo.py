"""`firewatch demo`: the whole service on the local stack, end to end, in a few minutes.

Brings up the emulators (unless already up), creates the resources, makes the demo model
if missing, starts the streaming pipeline, publishes frames from four simulated cameras
(one with a fire episode, three clear with hard negatives; one camera sends gs:// URIs,
and two malformed messages show the dead-letter path), prints alerts as they fire, waits
until every message is a prediction or a dead letter, prints a BigQuery summary and
shuts everything down. Demo frames are synthetic (see model/data/synth.py).
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image

FIRE_CAMERA = "cam-north"
CLEAR_CAMERAS = ("cam-east", "cam-south")
URI_CAMERA = "cam-west"
FRAMES_PER_CAMERA = 24
FIRE_FRAMES = range(6, 16)  # frames 6..15 of the fire camera show flames


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def write_camera_frames(out: Path, seed: int = 7) -> dict[str, Path]:
    """One folder of PNG frames per camera: the fire episode and the clear cameras."""
    from model.data.synth import render_fire_frame, render_negative_frame

    rng = np.random.default_rng(seed)
    folders = {}
    for camera in (FIRE_CAMERA, *CLEAR_CAMERAS, URI_CAMERA):
        folder = out / camera
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(FRAMES_PER_CAMERA):
            if camera == FIRE_CAMERA and i in FIRE_FRAMES:
                pixels = render_fire_frame(rng)[0]
            else:
                pixels = render_negative_frame(rng)
            (folder / f"frame-{i:04d}.png").write_bytes(_png(pixels))
        folders[camera] = folder
    return folders


def count_rows(table: str, where: str = "TRUE") -> int:
    from firewatch.cloud.clients import bigquery_client

    rows = list(bigquery_client().query(f"SELECT COUNT(*) AS n FROM `{table}` WHERE {where}").result())
    return int(rows[0]["n"])


def wait_for_rows(tables: list[str], expected: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        seen = sum(count_rows(t) for t in tables)
        print(f"\rrows in BigQuery: {seen}/{expected}", end="", flush=True)
        if seen >= expected:
            break
        time.sleep(3)
    print()
    return seen


def publish_bad_messages(project: str, topic: str) -> int:
    from firewatch.cloud.clients import publisher_client

    publisher = publisher_client()
    path = publisher.topic_path(project, topic)
    bad = [
        (b"\x89PNG\r\n\x1a\n this is not really a png", {"camera_id": "cam-broken", "frame_id": "corrupt"}),
        (json.dumps({"uri": "gs://someone-elses-bucket/x.jpg"}).encode(), {"camera_id": "cam-broken"}),
    ]
    for data, attrs in bad:
        publisher.publish(path, data, **attrs).result(timeout=30)
    return len(bad)


def publish_demo_frames(folders: dict[str, Path], names, project: str) -> int:
    """4 cameras x 24 frames at 1 fps of frame time (cam-west as gs:// URIs) + malformed messages."""
    from firewatch.clients.publish import CameraSource, publish_cameras

    start = datetime.now(UTC) - timedelta(seconds=FRAMES_PER_CAMERA)
    sources = [CameraSource(c, [folders[c]]) for c in (FIRE_CAMERA, *CLEAR_CAMERAS)]
    report = publish_cameras(sources, topic=names.frames_topic, project=project, fast=True, start=start)
    by_uri = publish_cameras(
        [CameraSource(URI_CAMERA, [folders[URI_CAMERA]])],
        topic=names.frames_topic,
        project=project,
        fast=True,
        start=start,
        as_uri=True,
        bucket=names.frames_bucket,
    )
    bad = publish_bad_messages(project, names.frames_topic)
    print(f"  published {report.total + by_uri.total + bad} messages ({bad} malformed on purpose)", flush=True)
    return report.total + by_uri.total + bad


def print_summary(names) -> None:
    """Per-camera frames and fire frames, the dead letters and the alerts, from BigQuery."""
    from firewatch.clients.query import print_rows
    from firewatch.cloud.clients import bigquery_client

    client = bigquery_client()
    queries = (
        f"SELECT camera_id, COUNT(*) AS frames, COUNTIF(label = 'fire') AS fire_frames, "
        f"ROUND(MAX(fire_probability), 3) AS max_probability FROM `{names.table_id('predictions_table')}` "
        "GROUP BY camera_id ORDER BY camera_id",
        f"SELECT stage, error_type, reason FROM `{names.table_id('dead_letters_table')}` ORDER BY stage",
        f"SELECT camera_id, event, fire_frames, ROUND(peak_probability, 3) AS peak, explanation_uri "
        f"FROM `{names.table_id('alerts_table')}` ORDER BY event_time",
    )
    for sql in queries:
        print_rows([dict(r) for r in client.query(sql).result()])


def listen_in_background(names, alerts: list[dict], timeout: float) -> None:
    from firewatch.clients.alerts import format_alert, listen

    def on_alert(event: dict) -> None:
        alerts.append(event)
        print("\n  ALERT " + format_alert(event), flush=True)

    args = (names.alerts_subscription, names.project, on_alert)
    threading.Thread(target=listen, args=args, kwargs={"timeout": timeout}, daemon=True).start()


def run_demo(workdir: Path = Path("artifacts"), keep_stack: bool = False, timeout: float = 300.0) -> int:
    from infra import stack
    from infra.resources import ResourceNames, apply, destroy
    from model.demo import ensure_demo_model
    from streaming.local import start_stream, stop_stream

    began = time.monotonic()
    started_stack = not stack.status().healthy
    print("1/7 local stack: " + ("starting emulators" if started_stack else "already running"), flush=True)
    endpoints = stack.up()
    os.environ.update({k: v for k, v in endpoints.env().items()})
    names = ResourceNames(project=endpoints.project)
    print("2/7 resources: fresh topics, subscriptions, dataset, tables, bucket on the emulators", flush=True)
    destroy(names)  # local emulators only: every demo run starts from empty tables
    apply(names)
    print("3/7 demo model (trained on synthetic data the first time, ~2 min)", flush=True)
    model_dir = ensure_demo_model(workdir / "demo-model")
    folders = write_camera_frames(workdir / "demo-frames")
    log = Path(endpoints.state_dir) / "logs" / "stream.log"
    print(f"4/7 streaming pipeline (log: {log})", flush=True)
    flags = ["--confirm-clear-seconds", "5", "--confirm-cooldown-seconds", "60", "--project", endpoints.project]
    stream = start_stream(model_dir, log, flags)
    alerts: list[dict] = []
    listen_in_background(names, alerts, timeout)
    code = 1
    try:
        print("5/7 publishing frames: 4 cameras x 24 frames at 1 fps (frame time), cam-west as gs:// URIs", flush=True)
        expected = publish_demo_frames(folders, names, endpoints.project)
        print("6/7 waiting for every message to become a prediction or a dead letter", flush=True)
        seen = wait_for_rows([names.table_id(), names.table_id("dead_letters_table")], expected, timeout)
        print("  waiting for the fire camera's alert to close (frames are counted in capture order)", flush=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and count_rows(names.table_id("alerts_table"), "event = 'close'") < 1:
            time.sleep(2)
        time.sleep(3)  # let the listener print the last events
        print("7/7 summary from BigQuery", flush=True)
        print_summary(names)
        alerted = sorted({a["camera_id"] for a in alerts if a.get("event") == "open"})
        ok = seen == expected and alerted == [FIRE_CAMERA]
        print(f"\n{seen}/{expected} messages accounted for; alerts opened for: {', '.join(alerted) or 'none'}")
        print("DEMO OK" if ok else "DEMO FAILED: expected an alert for the fire camera only, and every row")
        code = 0 if ok else 1
    finally:
        stop_stream(stream)
        if started_stack and not keep_stack:
            stack.down()
        stopped = "" if not started_stack or keep_stack else ", stack stopped"
        print(f"done in {time.monotonic() - began:.0f} s; pipeline stopped{stopped}")
        if not started_stack or keep_stack:  # the tables are still there: show them to an operator
            print(f"operator console: firewatch console --model {model_dir}  ->  http://127.0.0.1:8080/")
    return code
