"""`firewatch edge run --publish` sends its alert events to the alerts topic in the pipeline's format."""

from __future__ import annotations

import json

import pytest

from firewatch.cli import main
from firewatch.cloud.clients import subscriber_client
from tests.edge.colour_model import write_colour_model, write_frames

pytestmark = pytest.mark.stack


def test_edge_run_publishes_alerts(gcp_resources, tmp_path, capsys):
    names = gcp_resources
    model = write_colour_model(tmp_path / "colour.tflite")
    fire = write_frames(tmp_path / "fire", (230, 20, 10), 4)  # open at the 3rd, no update (every 5)
    code = main(
        ["edge", "run", "--model", str(model), f"cam-e={fire}", "--publish",
         "--alerts-topic", names.alerts_topic, "--project", names.project]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0 and "1 published" in captured.err, captured.err
    subscriber = subscriber_client()
    path = subscriber.subscription_path(names.project, names.alerts_subscription)
    response = subscriber.pull(subscription=path, max_messages=10, timeout=30)
    messages = [m.message for m in response.received_messages]
    assert len(messages) == 1
    event = json.loads(messages[0].data)
    assert dict(messages[0].attributes) == {"camera_id": "cam-e", "event": "open", "alert_id": event["alert_id"]}
    assert event["model_version"] == "colour-test-1+tflite-float32" and event["fire_frames"] >= 3
