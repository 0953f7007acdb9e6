"""The user-side CLIs on the emulators: `firewatch publish` sends the documented message,
`firewatch alerts` prints what arrives on the alert subscription."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from firewatch.cli import main
from firewatch.cloud.clients import publisher_client, subscriber_client
from firewatch.core.contract import parse_message

pytestmark = pytest.mark.stack


def test_publish_cli_sends_contract_messages_for_many_cameras(gcp_resources, tmp_path, capsys):
    names = gcp_resources
    for camera in ("cam-1", "cam-2"):
        (tmp_path / camera).mkdir()
        for i in range(3):
            buffer = io.BytesIO()
            Image.fromarray(np.full((16, 16, 3), 40 * i, np.uint8)).save(buffer, format="PNG")
            (tmp_path / camera / f"{i}.png").write_bytes(buffer.getvalue())
    code = main(
        [
            "publish",
            f"cam-1={tmp_path / 'cam-1'}",
            f"cam-2={tmp_path / 'cam-2'}",
            "--fps",
            "5",
            "--fast",
            "--topic",
            names.frames_topic,
            "--project",
            names.project,
        ]
    )
    assert code == 0 and "published 6 frames" in capsys.readouterr().out
    subscriber = subscriber_client()
    path = subscriber.subscription_path(names.project, names.frames_subscription)
    received = []
    while len(received) < 6:
        response = subscriber.pull(subscription=path, max_messages=10, timeout=30)
        received += response.received_messages
        if not response.received_messages:
            break
    requests = [parse_message(m.message.data, dict(m.message.attributes)) for m in received]
    assert sorted((r.camera_id, r.frame_id) for r in requests) == [
        (c, f"{i}.png") for c in ("cam-1", "cam-2") for i in range(3)
    ]
    times = sorted(r.captured_at for r in requests if r.camera_id == "cam-1")
    assert (times[1] - times[0]).total_seconds() == pytest.approx(0.2)


def test_publish_cli_says_what_is_wrong(gcp_resources, tmp_path, capsys):
    assert main(["publish", str(tmp_path / "nothing-here"), "--topic", gcp_resources.frames_topic]) == 2
    assert "no camera" in capsys.readouterr().err
    assert main(["publish", "--camera", "c", str(tmp_path / "missing.png"), "--topic", "x"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_alerts_cli_prints_alerts_as_they_arrive(gcp_resources, capsys):
    names = gcp_resources
    event = {
        "alert_id": "cam-9-1",
        "camera_id": "cam-9",
        "event": "open",
        "fire_frames": 3,
        "peak_probability": 0.97,
        "mean_probability": 0.9,
        "first_frame_at": "2026-11-22T10:00:00Z",
        "last_frame_at": "2026-11-22T10:00:02Z",
        "explanation_uri": "gs://b/x.png",
    }
    publisher = publisher_client()
    topic = publisher.topic_path(names.project, names.alerts_topic)
    publisher.publish(topic, json.dumps(event).encode(), camera_id="cam-9", event="open").result(timeout=30)
    code = main(
        [
            "alerts",
            "--subscription",
            names.alerts_subscription,
            "--project",
            names.project,
            "--count",
            "1",
            "--timeout",
            "30",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "[OPEN  ] camera=cam-9" in out and "peak=0.970" in out and "gs://b/x.png" in out
