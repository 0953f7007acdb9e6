"""`firewatch notify` as a process, on the local stack with real peers: alert events made by the
pipeline's own confirmation (`firewatch.core.confirm.step`) and published as the pipeline publishes
them (`alert_message_parts`) on the Pub/Sub emulator's alerts topic reach a signed webhook, a
Slack-shaped and a Telegram-shaped HTTP receiver and an SMTP server (aiosmtpd) within 5 s, once,
with the box, the link and the peak frame's thumbnail (read from the GCS emulator); updates are
throttled; the close arrives; a channel that cannot be reached leaves the message on the
undeliverable topic with its reason.

The streaming pipeline itself is run in test_notify_pipeline.py; here event times are chosen freely
(the throttle reads them), with the confirmation and message format the pipeline uses."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.notify.harness import (
    CONSOLE,
    REPO,
    TOKEN,
    notifier_process,
    notify_paths,
    pull_one,
    wait_for,
    write_config,
)
from tests.notify.peers import free_port

pytestmark = pytest.mark.stack

DEADLINE_S = 5.0


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


def test_alerts_reach_every_channel_once_within_5_s_and_an_unreachable_one_is_reported(gcp_resources, peers, tmp_path):
    from firewatch.cloud.clients import publisher_client, storage_client
    from firewatch.core.alerts import alert_message_parts

    hook, slack, telegram, smtp = peers
    names = gcp_resources
    alerts_topic = names.topic_path("alerts_topic")
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    events = alert_events("ridge-1", names.frames_bucket, t0)
    assert [e["event"] for e in events] == ["open", "update", "update", "update", "close"]
    assert events[0]["peak_box"] == {"x_min": 0.4, "y_min": 0.5, "x_max": 0.6, "y_max": 0.7}
    bucket = storage_client().bucket(names.frames_bucket)
    bucket.blob(events[0]["peak_frame_key"] + ".jpg").upload_from_string(jpeg(), content_type="image/jpeg")
    gone = f'  gone: {{type: webhook, url: "http://127.0.0.1:{free_port()}/nobody", secret: "${{FW_HOOK_SECRET}}"}}'
    config = write_config(tmp_path / "notify.yaml", hook, slack, telegram, smtp, "ridge-*", gone)
    config.write_text(config.read_text() + '  - {cameras: ["lost-*"], channels: [gone]}\n')
    log_path = tmp_path / "notify.log"
    publisher = publisher_client()
    paths = notify_paths(names)
    with notifier_process(config, paths, slack, log_path) as proc:

        def publish(event: dict) -> float:
            data, attributes = alert_message_parts(event)
            publisher.publish(alerts_topic, data, **attributes).result(timeout=30)
            return time.monotonic()

        def arrivals(kind: str) -> dict[str, list[float]]:
            return {channel: [at for at, _ in got] for channel, got in received(peers, kind).items()}

        # open: everywhere within the deadline, once, with box, link, thumbnail and a verified signature
        sent_at = publish(events[0])
        wait_for(lambda: all(arrivals("open").values()), 30, log_path)
        opened = arrivals("open")
        for channel, times in opened.items():
            assert times[0] - sent_at < DEADLINE_S, (channel, times[0] - sent_at)
        check_open_message(peers, events[0], thumbnail=True)

        # updates 4, 8 and 12 minutes after the open: only the last (10 minutes or more after the open) is sent
        for event in events[1:4]:
            sent_at = publish(event)
        wait_for(lambda: all(arrivals("update").values()), 30, log_path)
        for channel, times in arrivals("update").items():
            assert times[0] - sent_at < DEADLINE_S, channel

        sent_at = publish(events[4])
        wait_for(lambda: all(arrivals("close").values()), 30, log_path)
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
        pulled = pull_one(paths.undeliverable_subscription)
        assert json.loads(pulled.message.data) == lost
        attrs = dict(pulled.message.attributes)
        assert attrs["channel"] == "gone" and attrs["attempts"] == "3" and attrs["alert_id"] == "lost-3-A"
        assert attrs["reason"].startswith("webhook channel gone: ConnectionError"), attrs["reason"]
        assert proc.poll() is None, log_path.read_text()


TITLES = {"open": "FIRE ALERT on", "update": "Fire alert update", "close": "Fire alert closed"}


def received(peers, kind: str) -> dict[str, list[tuple[float, object]]]:
    """Per channel, (monotonic arrival, what arrived) of the messages about `kind` events."""
    hook, slack, telegram, smtp = peers
    title = TITLES[kind]
    return {
        "webhook": [(r.at, r) for r in hook.received if json.loads(r.body)["event"] == kind],
        "slack": [(r.at, r) for r in slack.received if json.loads(r.body)["text"].startswith(title)],
        "telegram": [(r.at, r) for r in telegram.received if title.encode() in r.body],
        "smtp": [(at, m) for at, m, _ in smtp.messages if m["Subject"].startswith(title)],
    }


def check_open_message(peers, event: dict, *, thumbnail: bool) -> None:
    """The open message on every channel: signature, box, link, and the peak frame's thumbnail."""
    got = {channel: items[0][1] for channel, items in received(peers, "open").items()}
    link = f"{CONSOLE}/alerts/{event['alert_id']}"
    box = event["peak_box"]
    box_text = f"x {box['x_min']:.2f}-{box['x_max']:.2f}, y {box['y_min']:.2f}-{box['y_max']:.2f}"
    body = json.loads(got["webhook"].body)
    assert got["webhook"].verified is True
    assert body["link"] == link and body["box"] == box and body["payload"] == event and box_text in body["text"]
    slack = json.loads(got["slack"].body)
    assert f"<{link}|" in json.dumps(slack["blocks"]) and box_text in slack["text"]
    mail_text = got["smtp"].get_body(("plain",)).get_content()
    assert link in mail_text and box_text in mail_text
    assert link.encode() in got["telegram"].body and box_text.encode() in got["telegram"].body
    if thumbnail:
        assert body["thumbnail"]["label"] == f"peak frame {event['peak_frame_key']}"
        assert got["telegram"].path == f"/bot{TOKEN}/sendPhoto" and b"image/jpeg" in got["telegram"].body
        assert [p.get_filename() for p in got["smtp"].iter_attachments()] == ["peak-frame.jpg"]


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


def test_notify_serve_takes_pub_sub_pushes_and_delivers(gcp_resources, peers, tmp_path):
    """`firewatch notify serve` (the Cloud Run entry point) as a process: a push envelope as Pub/Sub
    sends it is delivered to every channel and answered 200; a bad envelope is answered 400."""
    import base64

    import requests

    from firewatch.core.alerts import alert_message_parts
    from tests.notify.harness import notifier_env

    hook, slack, telegram, smtp = peers
    names = gcp_resources
    event = alert_events("ridge-7", names.frames_bucket, datetime.now(UTC).replace(microsecond=0))[0]
    config = write_config(tmp_path / "notify.yaml", hook, slack, telegram, smtp, "ridge-*")
    port, log_path = free_port(), tmp_path / "serve.log"
    cmd = [sys.executable, "-m", "firewatch.cli", "notify", "serve", "--config", str(config), "--host", "127.0.0.1",
           "--port", str(port), "--undeliverable-topic", names.topic_path("dead_letter_topic"),
           "--console-url", CONSOLE]  # fmt: skip
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=notifier_env(slack), stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return requests.get(f"{url}/healthz", timeout=1).status_code == 200
            except requests.ConnectionError:
                return proc.poll() is not None

        wait_for(up, 60, log_path)
        assert proc.poll() is None, log_path.read_text()
        data, attributes = alert_message_parts(event)
        envelope = {"message": {"data": base64.b64encode(data).decode(), "attributes": attributes, "messageId": "1"},
                    "subscription": "projects/p/subscriptions/notify-sub"}  # fmt: skip
        answer = requests.post(f"{url}/pubsub", json=envelope, timeout=30)
        assert answer.status_code == 200 and answer.json()["sent"] == ["hook", "chat", "phone", "mail"]
        assert {c: len(items) for c, items in received(peers, "open").items()} == dict.fromkeys(
            ("webhook", "slack", "telegram", "smtp"), 1
        )
        check_open_message(peers, event, thumbnail=False)  # no frame object was uploaded: sent without one
        assert requests.post(f"{url}/pubsub", json={"message": {"data": "%%"}}, timeout=10).status_code == 400
    finally:
        proc.terminate()
        proc.wait(timeout=30)
