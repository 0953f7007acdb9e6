"""The streaming service end to end on the real emulators (Pub/Sub, BigQuery, GCS).

One pipeline run (a `firewatch stream` process) receives a mix of good frames and every
kind of bad input; the tests then check that every published message is exactly one
prediction row or one dead-letter row, that an alert opens and closes for the fire camera
and never for clear cameras, that the same frame as bytes and as a gs:// URI scores the
same, that fire frames get explanations, and that stopping leaves no process behind.
Frames are scored by the controlled model (`tests/fixtures/controlled_model.py`): red frames
are fire and blue ones clear on any machine, so the counts test the pipeline, not the model.
"""

from __future__ import annotations

import io
import json
import subprocess
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from PIL import Image

from firewatch.clients.alerts import listen
from firewatch.clients.publish import CameraSource, publish_cameras
from firewatch.cloud.clients import publisher_client, storage_client
from infra import resources
from streaming.local import group_alive, start_stream, stop_stream
from tests.fixtures.controlled_model import colour_png
from tests.fixtures.streaming_helpers import FrameBatch, bad_inputs, count, pull_all, rows, stream_args, wait_until

pytestmark = pytest.mark.stack
MAX_PIXELS = 1_000_000


@pytest.fixture(scope="module")
def streaming_run(local_stack, controlled_model_dir, tmp_path_factory):
    names = resources.ResourceNames(project=local_stack.project).with_suffix(uuid.uuid4().hex[:8])
    resources.apply(names)
    project, bucket, dataset = names.project, names.frames_bucket, f"{names.project}.{names.dataset}"
    rng = np.random.default_rng(11)
    batch = FrameBatch(t0=datetime.now(UTC) - timedelta(minutes=5))
    # The fire camera: 4 clear, 6 fire, 6 clear frames, one fire frame delivered twice.
    fire_camera = [colour_png(rng, fire=False) for _ in range(4)]
    fire_camera += [colour_png(rng, fire=True) for _ in range(6)] + [colour_png(rng, fire=False) for _ in range(6)]
    for i, data in enumerate(fire_camera):
        batch.frame("cam-fire", i, data)
    batch.frame("cam-fire", 6, fire_camera[6])  # a redelivery: a row, but counted once by confirmation
    # A clear camera, published by our client from a folder of frames.
    clear_dir = tmp_path_factory.mktemp("cam-clear")
    for i in range(12):
        (clear_dir / f"{i:03d}.png").write_bytes(colour_png(rng, fire=False))
    # The same fire frame as bytes and as a gs:// URI.
    same = colour_png(rng, fire=True)
    storage_client(project).bucket(bucket).blob("cam-same/frame.png").upload_from_string(same, content_type="image/png")
    batch.frame("cam-same", 0, same)
    batch.frame("cam-same", 1, json.dumps({"uri": f"gs://{bucket}/cam-same/frame.png"}).encode())
    good = len(batch.messages) + 12 + 1  # + the clear camera's folder + one frame sent by the gcloud CLI
    bad_inputs(batch, bucket, same, MAX_PIXELS)
    published = len(batch.messages) + 13

    log = tmp_path_factory.mktemp("stream") / "stream.log"
    extra = stream_args(
        names,
        max_pixels=str(MAX_PIXELS),
        confirm_clear_seconds="3",
        explanations_output=f"gs://{bucket}/explanations",
        explanation_min_interval_seconds="0",  # every fire frame: the test counts them all
    )
    process = start_stream(controlled_model_dir, log, extra)
    alive = lambda: process.poll() is None  # noqa: E731
    deadline = time.monotonic() + 300
    alerts: list[dict] = []
    try:
        publish(names, batch, clear_dir)
        wait_until(
            lambda: count(f"{dataset}.predictions") + count(f"{dataset}.dead_letters") >= published, deadline, alive
        )
        # Explanations run on their own branch; frames still in the reorder buffer are counted
        # when the camera's flush timer fires: give both time to land.
        fire = lambda: count(f"{dataset}.predictions", "label = 'fire'")  # noqa: E731
        wait_until(lambda: fire() > 0 and count(f"{dataset}.explanations") >= fire(), deadline, alive)
        wait_until(lambda: count(f"{dataset}.alerts", "event = 'close'") >= 1, deadline, alive)
        listen(names.alerts_subscription, project, alerts.append, timeout=8)
        dead_messages = pull_all(project, names.dead_letter_subscription, len(batch.bad))
    finally:
        stopped = stop_stream(process)
    yield {
        "names": names,
        "dataset": dataset,
        "good": good,
        "bad": batch.bad,
        "published": published,
        "alerts": alerts,
        "dead_messages": dead_messages,
        "stopped": stopped,
        "alive_after": group_alive(process),
        "log": log,
    }
    resources.destroy(names)


def publish(names: resources.ResourceNames, batch: FrameBatch, clear_dir) -> None:
    """The batch with the Pub/Sub client, a folder with `firewatch publish`'s client, one frame with gcloud."""
    publisher = publisher_client()
    topic = publisher.topic_path(names.project, names.frames_topic)
    for data, attrs in batch.messages:
        publisher.publish(topic, data, **attrs).result(timeout=30)
    report = publish_cameras(
        [CameraSource("cam-clear", [clear_dir])],
        topic=names.frames_topic,
        project=names.project,
        fast=True,
        start=batch.t0,
    )
    assert report.total == 12
    # The contract is the documented message, not our client: the gcloud CLI works too.
    uri = json.dumps({"uri": f"gs://{names.frames_bucket}/cam-same/frame.png"})
    subprocess.run(
        ["gcloud", "pubsub", "topics", "publish", names.frames_topic, f"--project={names.project}",
         "--message", uri, "--attribute", "camera_id=cam-gcloud,frame_id=by-gcloud"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def test_every_message_is_a_prediction_or_a_dead_letter(streaming_run):
    ds = streaming_run["dataset"]
    predictions, dead = count(f"{ds}.predictions"), count(f"{ds}.dead_letters", "stage != 'explain'")
    assert (predictions, dead) == (streaming_run["good"], len(streaming_run["bad"])), streaming_run["log"].read_text()[
        -3000:
    ]
    assert predictions + dead == streaming_run["published"]
    stages = Counter((r["stage"], r["error_type"]) for r in rows(f"SELECT stage, error_type FROM `{ds}.dead_letters`"))
    assert stages == Counter(streaming_run["bad"])
    reasons = rows(f"SELECT reason, attributes_json, payload_sha256 FROM `{ds}.dead_letters`")
    assert all(r["reason"] for r in reasons)
    assert sum(1 for r in reasons if r["attributes_json"] and "cam-bad" in r["attributes_json"]) == 6


def test_alert_opens_and_closes_for_the_fire_camera_only(streaming_run):
    ds = streaming_run["dataset"]
    table = rows(f"SELECT camera_id, event, fire_frames, alert_id FROM `{ds}.alerts` ORDER BY event_time")
    assert {r["camera_id"] for r in table} == {"cam-fire"}
    events = [r["event"] for r in table]
    assert events[0] == "open" and events[-1] == "close" and events.count("open") == 1
    assert len({r["alert_id"] for r in table}) == 1
    assert table[-1]["fire_frames"] == 6  # the redelivered fire frame was not counted twice
    published = [(a["camera_id"], a["event"]) for a in streaming_run["alerts"]]
    assert ("cam-fire", "open") in published and ("cam-fire", "close") in published
    assert all(camera == "cam-fire" for camera, _ in published)


def test_same_frame_as_bytes_and_as_uri_scores_the_same(streaming_run):
    ds = streaming_run["dataset"]
    same = rows(
        f"SELECT frame_id, fire_probability, source_uri, content_sha256 FROM `{ds}.predictions` "
        "WHERE camera_id = 'cam-same' ORDER BY frame_id"
    )
    assert len(same) == 2 and same[0]["source_uri"] is None and same[1]["source_uri"].startswith("gs://")
    assert same[0]["content_sha256"] == same[1]["content_sha256"]
    assert same[0]["fire_probability"] == pytest.approx(same[1]["fire_probability"], abs=1e-6)
    by_gcloud = rows(f"SELECT fire_probability, content_sha256 FROM `{ds}.predictions` WHERE camera_id = 'cam-gcloud'")
    assert len(by_gcloud) == 1 and by_gcloud[0]["content_sha256"] == same[0]["content_sha256"]
    assert by_gcloud[0]["fire_probability"] == pytest.approx(same[0]["fire_probability"], abs=1e-6)


def test_fire_frames_are_explained_with_overlays_in_gcs(streaming_run):
    ds = streaming_run["dataset"]
    fire = {r["frame_key"] for r in rows(f"SELECT frame_key FROM `{ds}.predictions` WHERE label = 'fire'")}
    explained = rows(f"SELECT frame_key, approximation_error, overlay_uri, compute_ms FROM `{ds}.explanations`")
    assert fire and {r["frame_key"] for r in explained} == fire
    assert all(r["approximation_error"] < 0.05 and r["compute_ms"] > 0 for r in explained)
    bucket = streaming_run["names"].frames_bucket
    uri = explained[0]["overlay_uri"]
    assert uri.startswith(f"gs://{bucket}/explanations/")
    data = storage_client().bucket(bucket).blob(uri.split(f"gs://{bucket}/", 1)[1]).download_as_bytes()
    assert Image.open(io.BytesIO(data)).width >= 256
    opened = rows(f"SELECT explanation_uri FROM `{ds}.alerts` WHERE event = 'open'")
    assert opened[0]["explanation_uri"] in {r["overlay_uri"] for r in explained}


def test_stopping_leaves_no_process_behind(streaming_run):
    assert streaming_run["stopped"] and not streaming_run["alive_after"]


def test_dead_letters_are_published_for_replay(streaming_run):
    messages = streaming_run["dead_messages"]
    assert sorted(m.attributes["firewatch_error_type"] for m in messages) == sorted(
        error_type for _, error_type in streaming_run["bad"]
    )
    corrupt = next(m for m in messages if m.data.startswith(b"\x89PNG\r\n\x1a\n corrupt"))
    assert corrupt.attributes["camera_id"] == "cam-bad" and corrupt.attributes["firewatch_stage"] == "decode"
    missing = next(m for m in messages if m.attributes["firewatch_error_type"] == "object_not_found")
    assert json.loads(missing.data)["uri"].endswith("/missing.png")  # replayable as the message that was sent
