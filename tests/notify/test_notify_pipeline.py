"""An alert opened by the streaming pipeline reaches every channel: `firewatch stream` (the
controlled model: red frames are fire) confirms a fire on a camera whose frames are gs:// objects,
publishes open and close on the alerts topic, and a `firewatch notify` process delivers them to a
signed webhook, Slack- and Telegram-shaped receivers and an SMTP server, each within 5 s of the
pipeline's publish (Pub/Sub's publish_time, read from the pipeline's own alerts subscription), once,
with the box, the link and the peak frame's thumbnail; the pipeline's updates (seconds after the
open) are throttled."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from firewatch.cloud.clients import publisher_client, storage_client
from streaming.local import start_stream, stop_stream
from tests.fixtures.controlled_model import colour_png
from tests.fixtures.streaming_helpers import stream_args
from tests.notify.harness import notifier_process, notify_paths, pull_one, wait_for, write_config
from tests.notify.test_notify_stack import DEADLINE_S, check_open_message, received

pytestmark = pytest.mark.stack


def test_an_alert_the_pipeline_opens_reaches_every_channel_within_5_s(
    gcp_resources, controlled_model_dir, peers, tmp_path
):
    hook, slack, telegram, smtp = peers
    names = gcp_resources
    project, bucket = names.project, names.frames_bucket
    rng = np.random.default_rng(7)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    frames = [False] * 3 + [True] * 6 + [False] * 8
    messages = []
    for i, fire in enumerate(frames):
        frame_id = f"cam-fire-{i:03d}"
        storage_client(project).bucket(bucket).blob(f"cam-fire/{frame_id}.png").upload_from_string(
            colour_png(rng, fire=fire), content_type="image/png"
        )
        captured = (t0 + timedelta(seconds=i)).isoformat().replace("+00:00", "Z")
        data = json.dumps({"uri": f"gs://{bucket}/cam-fire/{frame_id}.png"}).encode()
        messages.append((data, {"camera_id": "cam-fire", "frame_id": frame_id, "captured_at": captured}))

    config = write_config(tmp_path / "notify.yaml", hook, slack, telegram, smtp, "cam-*")
    notify_log, stream_log = tmp_path / "notify.log", tmp_path / "stream.log"
    paths = notify_paths(names)
    with notifier_process(config, paths, slack, notify_log) as notifier:
        args = stream_args(names, confirm_clear_seconds="3", confirm_update_every="1")
        stream = start_stream(controlled_model_dir, stream_log, args)
        try:
            publisher = publisher_client()
            topic = names.topic_path("frames_topic")
            for data, attributes in messages:
                publisher.publish(topic, data, **attributes).result(timeout=30)
            closed = lambda: all(received(peers, "close").values()) or stream.poll() is not None  # noqa: E731
            wait_for(closed, 400, stream_log, every=1.0)
            assert stream.poll() is None, stream_log.read_text()[-4000:]
        finally:
            stop_stream(stream)
        # The pipeline's own alerts subscription has the same messages, with Pub/Sub's publish time.
        published = {}
        while {"open", "update", "close"} - set(published):
            message = pull_one(names.subscription_path("alerts_subscription")).message
            published[message.attributes["event"]] = message
        opened = json.loads(published["open"].data)
        assert opened["camera_id"] == "cam-fire" and opened["fire_frames"] >= 3
        for kind in ("open", "close"):
            publish_time = published[kind].publish_time.timestamp()
            for channel, items in received(peers, kind).items():
                assert len(items) == 1, (kind, channel, len(items))  # once
                wall = items[0][1].wall if hasattr(items[0][1], "wall") else _smtp_wall(smtp, items[0][1])
                assert wall - publish_time < DEADLINE_S, (kind, channel, wall - publish_time)
        # the pipeline's updates (one per fire frame here) came seconds after the open: all throttled
        assert all(not items for items in received(peers, "update").values())
        assert "throttled: next update for this alert" in notify_log.read_text()
        check_open_message(peers, opened, thumbnail=True)
        assert all(r.verified for r in hook.received)
        assert notifier.poll() is None, notify_log.read_text()


def _smtp_wall(smtp, message) -> float:
    return next(wall for _, m, wall in smtp.messages if m is message)
