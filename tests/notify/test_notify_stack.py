"""`firewatch notify` as a process, on the local stack with real peers: alert events made by the
pipeline's own confirmation (`firewatch.core.confirm.step`) and published as the pipeline publishes
them (`alert_message_parts`) on the Pub/Sub emulator's alerts topic reach a signed webhook, a
Slack-shaped and a Telegram-shaped HTTP receiver and an SMTP server (aiosmtpd) within 5 s, once,
with the box, the link and the peak frame's thumbnail (read from the GCS emulator); updates are
throttled; the close arrives; a channel that cannot be reached leaves the message on the
undeliverable topic with its reason.

The streaming pipeline itself is not run here (on this machine its Pub/Sub read adds up to ~30 s
per bundle); its confirmation and message format are the same code."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.notify.peers import Receiver, SmtpServer, free_port

pytestmark = pytest.mark.stack

REPO = Path(__file__).resolve().parents[2]
DEADLINE_S = 5.0
SECRET, TOKEN = "webhook-key-1", "123456:TEST-token"


def jpeg(width=1280, height=720) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (230, 90, 20)).save(out, format="JPEG")
    return out.getvalue()


def alert_events(camera: str, bucket: str, t0: datetime) -> list[dict]:
    """open, updates and close of one alert from the confirmation state machine the pipeline runs."""
    from firewatch.core.confirm import CameraState, ConfirmConfig, FrameObservation, flush, step
    from firewatch.core.regions import FireBox

    config = ConfirmConfig(k=2, n=3, open_threshold=0.5, reorder_seconds=0, update_every=1, clear_seconds=30)
    state, events = CameraState(), []
    box = (0.4, 0.5, 0.6, 0.7)
    probabilities = [0.7, 0.9, 0.8, 0.85, 0.8, 0.1, 0.1]  # opens on the 2nd, 3 updates, clear 30 s later
    for i, p in enumerate(probabilities):
        captured = t0 + timedelta(seconds=10 * i if i < 5 else 40 + 20 * i)
        obs = FrameObservation(
            captured, f"{camera}/f{i}", p, 0.5, "v1", f"gs://{bucket}/{camera}/f{i}.jpg",
            boxes=(FireBox(box, p),) if p >= 0.5 else (), peak_box=box,
        )  # fmt: skip
        # The pipeline stamps events with the wall clock; here one event per ~4 minutes of it.
        events += step(state, camera, obs, config, now=t0 + timedelta(minutes=4 * i))
    events += flush(state, camera, config, now=t0 + timedelta(minutes=40))
    return events


@pytest.fixture
def peers():
    hook, slack, telegram = Receiver("webhook", secret=SECRET), Receiver("slack"), Receiver("telegram", token=TOKEN)
    smtp = SmtpServer()
    yield hook, slack, telegram, smtp
    for peer in (hook, slack, telegram, smtp):
        peer.close()


def test_alerts_reach_every_channel_once_within_5_s_and_an_unreachable_one_is_reported(gcp_resources, peers, tmp_path):
    from firewatch.cloud.clients import publisher_client, storage_client, subscriber_client
    from firewatch.core.confirm import alert_message_parts

    hook, slack, telegram, smtp = peers
    names = gcp_resources
    project = names.project
    alerts_topic = names.topic_path("alerts_topic")
    suffix = names.alerts_topic.rsplit("-", 1)[-1]
    notify_sub = f"projects/{project}/subscriptions/notify-{suffix}"
    undeliverable = f"projects/{project}/topics/notify-undeliverable-{suffix}"
    undeliverable_sub = f"projects/{project}/subscriptions/notify-undeliverable-{suffix}"
    publisher, subscriber = publisher_client(), subscriber_client()
    publisher.create_topic(name=undeliverable)
    subscriber.create_subscription(name=undeliverable_sub, topic=undeliverable)
    subscriber.create_subscription(name=notify_sub, topic=alerts_topic, ack_deadline_seconds=30)

    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    events = alert_events("ridge-1", names.frames_bucket, t0)
    assert [e["event"] for e in events] == ["open", "update", "update", "update", "close"]
    assert events[0]["peak_box"] == {"x_min": 0.4, "y_min": 0.5, "x_max": 0.6, "y_max": 0.7}
    bucket = storage_client().bucket(names.frames_bucket)
    bucket.blob(events[0]["peak_frame_key"] + ".jpg").upload_from_string(jpeg(), content_type="image/jpeg")

    config = tmp_path / "notify.yaml"
    config.write_text(
        f"""
update_every_minutes: 10
channels:
  hook: {{type: webhook, url: "{hook.url}/fire", secret: "${{FW_HOOK_SECRET}}"}}
  chat: {{type: slack, url: "${{FW_SLACK_URL}}"}}
  phone: {{type: telegram, token: "${{FW_TG_TOKEN}}", chat_id: "-1001", api_base: "{telegram.url}"}}
  mail: {{type: email, host: 127.0.0.1, port: {smtp.port}, starttls: false, sender: fire@example.org,
          to: [ops@example.org]}}
  gone: {{type: webhook, url: "http://127.0.0.1:{free_port()}/nobody", secret: "${{FW_HOOK_SECRET}}"}}
routes:
  - {{cameras: ["ridge-*"], events: [open, update, close, stale], channels: [hook, chat, phone, mail]}}
  - {{cameras: ["lost-*"], channels: [gone]}}
"""
    )
    env = {**os.environ, "FW_HOOK_SECRET": SECRET, "FW_SLACK_URL": f"{slack.url}/services/T/B/X",
           "FW_TG_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"}  # fmt: skip
    log_path = tmp_path / "notify.log"
    cmd = [sys.executable, "-m", "firewatch.cli", "notify", "--config", str(config), "--subscription", notify_sub,
           "--undeliverable-topic", undeliverable, "--console-url", "https://console.example.org",
           "--attempts", "3", "--initial-backoff-s", "0.05", "--timeout-s", "2"]  # fmt: skip
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for(lambda: "notify: pulling" in log_path.read_text() or proc.poll() is not None, 60, log_path)
        assert proc.poll() is None, log_path.read_text()
        time.sleep(1.0)  # the streaming pull opens just after the line

        def publish(event: dict) -> float:
            data, attributes = alert_message_parts(event)
            publisher.publish(alerts_topic, data, **attributes).result(timeout=30)
            return time.monotonic()

        def arrivals(kind: str) -> dict[str, list[float]]:
            title = {"open": "FIRE ALERT on", "update": "Fire alert update", "close": "Fire alert closed"}[kind]
            return {
                "webhook": [r.at for r in hook.received if json.loads(r.body)["event"] == kind],
                "slack": [r.at for r in slack.received if json.loads(r.body)["text"].startswith(title)],
                "telegram": [r.at for r in telegram.received if title.encode() in r.body],
                "smtp": [at for at, m in smtp.messages if m["Subject"].startswith(title)],
            }

        # open: everywhere within the deadline, once, with box, link, thumbnail and a verified signature
        sent_at = publish(events[0])
        _wait_for(lambda: all(arrivals("open").values()), 30, log_path)
        opened = arrivals("open")
        for channel, times in opened.items():
            assert times[0] - sent_at < DEADLINE_S, (channel, times[0] - sent_at)
        link = f"https://console.example.org/alerts/{events[0]['alert_id']}"
        (hook_open,) = [r for r in hook.received if json.loads(r.body)["event"] == "open"]
        body = json.loads(hook_open.body)
        assert hook_open.verified is True
        assert body["link"] == link and body["box"] == events[0]["peak_box"] and body["payload"] == events[0]
        assert body["thumbnail"]["label"] == f"peak frame {events[0]['peak_frame_key']}"
        assert "Box: x 0.40-0.60, y 0.50-0.70" in body["text"]
        slack_open = json.loads(slack.received[0].body)
        assert f"<{link}|" in json.dumps(slack_open["blocks"]) and "x 0.40-0.60" in slack_open["text"]
        (tg_open,) = [r for r in telegram.received if b"FIRE ALERT on" in r.body]
        assert (
            tg_open.path == f"/bot{TOKEN}/sendPhoto" and b"image/jpeg" in tg_open.body and link.encode() in tg_open.body
        )
        (mail,) = [m for _, m in smtp.messages]
        assert (
            link in mail.get_body(("plain",)).get_content() and "x 0.40-0.60" in mail.get_body(("plain",)).get_content()
        )
        assert [p.get_filename() for p in mail.iter_attachments()] == ["peak-frame.jpg"]

        # updates 4, 8 and 12 minutes after the open: only the last (10 minutes or more after the open) is sent
        for event in events[1:4]:
            sent_at = publish(event)
        _wait_for(lambda: all(arrivals("update").values()), 30, log_path)
        for channel, times in arrivals("update").items():
            assert times[0] - sent_at < DEADLINE_S, channel

        sent_at = publish(events[4])
        _wait_for(lambda: all(arrivals("close").values()), 30, log_path)
        for channel, times in arrivals("close").items():
            assert times[0] - sent_at < DEADLINE_S, channel
        for kind in ("open", "update", "close"):
            assert {c: len(t) for c, t in arrivals(kind).items()} == dict.fromkeys(opened, 1), kind
        assert len(hook.received) == len(slack.received) == len(telegram.received) == len(smtp.messages) == 3
        assert all(r.verified for r in hook.received)
        assert "throttled: next update for this alert" in log_path.read_text()

        # a channel nobody listens on: the message lands on the undeliverable topic with its reason
        lost = {**events[0], "camera_id": "lost-3", "alert_id": "lost-3-A"}
        publish(lost)
        pulled = _pull_one(subscriber, undeliverable_sub)
        assert json.loads(pulled.message.data) == lost
        attrs = dict(pulled.message.attributes)
        assert attrs["channel"] == "gone" and attrs["attempts"] == "3" and attrs["alert_id"] == "lost-3-A"
        assert attrs["reason"].startswith("webhook channel gone: ConnectionError"), attrs["reason"]
        assert proc.poll() is None, log_path.read_text()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        subscriber.delete_subscription(subscription=notify_sub)
        subscriber.delete_subscription(subscription=undeliverable_sub)
        publisher.delete_topic(topic=undeliverable)


def test_a_missing_subscription_ends_the_notifier_with_one_clear_line(local_stack, tmp_path):
    config = tmp_path / "notify.yaml"
    config.write_text("channels:\n  m: {type: email, host: h, sender: a, to: [b]}\nroutes:\n  - {channels: [m]}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "firewatch.cli", "notify", "--config", str(config), "--subscription", "no-such-sub",
         "--undeliverable-topic", "nowhere"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "subscription no-such-sub not found" in proc.stderr, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]


def _wait_for(condition, timeout_s: float, log_path: Path) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s; notifier log:\n{log_path.read_text()[-4000:]}")


def _pull_one(subscriber, subscription: str):
    end = time.monotonic() + 60
    while time.monotonic() < end:
        response = subscriber.pull(subscription=subscription, max_messages=1, timeout=10)
        if response.received_messages:
            (received,) = response.received_messages
            subscriber.acknowledge(subscription=subscription, ack_ids=[received.ack_id])
            return received
    raise AssertionError(f"nothing on {subscription}")
