"""The notifier's pure parts and its delivery logic, with channels replaced by recorders:
signatures, secret references, the config file, routing, update throttling, retries, the
undeliverable path and the message text (box, link, thumbnail)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from firewatch.errors import ConfigError
from firewatch.notify import message, routing, secrets, signing
from firewatch.notify.channels import ChannelError
from firewatch.notify.retry import backoff_delays, with_retries
from firewatch.notify.service import DeliveryPolicy, Notifier
from firewatch.notify.settings import parse_settings, resolve_settings
from firewatch.notify.throttle import UpdateGate
from firewatch.notify.thumbnail import fetch_thumbnail, peak_picture

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)

CONFIG = """
update_every_minutes: 10
channels:
  hook: {type: webhook, url: "http://127.0.0.1:9/hook", secret: "${HOOK_SECRET}"}
  chat: {type: slack, url: "${SLACK_URL}"}
  bot: {type: telegram, token: "sm://projects/p/secrets/bot/versions/latest", chat_id: "42"}
  mail: {type: email, host: 127.0.0.1, port: 2525, starttls: false, sender: a@x.org, to: [b@x.org]}
routes:
  - {cameras: ["ridge-*"], events: [open, close], channels: [hook, chat]}
  - {cameras: ["*"], channels: [mail]}
"""


def event(kind="open", at=T0, alert="ridge-1-A", camera="ridge-1", **extra):
    return {
        "alert_id": alert, "camera_id": camera, "event": kind, "event_time": at.isoformat().replace("+00:00", "Z"),
        "first_frame_at": "2026-07-01T11:59:00Z", "last_frame_at": "2026-07-01T11:59:50Z", "fire_frames": 4,
        "peak_probability": 0.93, "mean_probability": 0.8, "frame_uris": ["gs://b/ridge-1/f1.jpg", "gs://b/ridge-1/f2.jpg"],
        "peak_frame_key": "ridge-1/f2", "explanation_uri": "gs://b/overlays/f1.png", "model_version": "v1",
        "peak_box": {"x_min": 0.1, "y_min": 0.2, "x_max": 0.3, "y_max": 0.45}, **extra,
    }  # fmt: skip


# -- signing ------------------------------------------------------------------------------------


def test_a_signature_verifies_only_the_same_body_secret_and_a_fresh_timestamp():
    body = b'{"a": 1}'
    headers = signing.signed_headers("s3cret", 1000, body)
    ts, sig = headers[signing.TIMESTAMP_HEADER], headers[signing.SIGNATURE_HEADER]
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert signing.verify("s3cret", body, ts, sig, now=1010)
    assert not signing.verify("s3cret", b'{"a": 2}', ts, sig, now=1010)  # tampered body
    assert not signing.verify("other", body, ts, sig, now=1010)  # wrong secret
    assert not signing.verify("s3cret", body, ts, sig, now=1000 + 301)  # replayed later
    assert not signing.verify("s3cret", body, "999", sig, now=1000)  # timestamp changed
    assert not signing.verify("s3cret", body, None, sig, now=1000)


# -- secrets and the config file -----------------------------------------------------------------


@pytest.mark.parametrize(
    "field,line",
    [
        ("webhook secret", 'hook: {type: webhook, url: "https://h", secret: "hunter2"}'),
        ("Slack webhook url", 'hook: {type: slack, url: "https://hooks.slack.com/services/T/B/X"}'),
        ("Telegram bot token", 'hook: {type: telegram, token: "123:ABC", chat_id: "1"}'),
        ("SMTP password", "hook: {type: email, host: h, sender: a@b, to: [c@d], username: u, password: pw}"),
    ],
)
def test_a_literal_secret_in_the_file_is_refused_with_the_field_named(field, line):
    text = f"channels:\n  {line}\nroutes:\n  - {{channels: [hook]}}\n"
    with pytest.raises(ConfigError, match=f"{field} must not be written in the config file"):
        parse_settings(text)


def test_references_resolve_from_the_environment_and_secret_manager():
    read = []
    resolved = resolve_settings(
        parse_settings(CONFIG),
        environ={"HOOK_SECRET": "k1", "SLACK_URL": "http://slack.local/x"},
        read_secret=lambda name: read.append(name) or "123:TOKEN",
    )
    assert resolved.channels["hook"].secret == "k1"
    assert resolved.channels["chat"].url == "http://slack.local/x"
    assert resolved.channels["bot"].token == "123:TOKEN" and read == ["projects/p/secrets/bot/versions/latest"]
    assert resolved.channels["mail"].to == ["b@x.org"]
    with pytest.raises(ConfigError, match="environment variable SLACK_URL"):
        resolve_settings(parse_settings(CONFIG), environ={"HOOK_SECRET": "k"}, read_secret=lambda n: "t")


def test_a_failing_secret_manager_read_is_a_config_error():
    def boom(name):
        raise PermissionError("denied")

    with pytest.raises(ConfigError, match="cannot read secret projects/p/secrets/s/versions/1.*denied"):
        secrets.resolve("sm://projects/p/secrets/s/versions/1", read_secret=boom)


def test_the_config_file_is_validated():
    with pytest.raises(ConfigError, match=r"unknown channel\(s\) \['nope'\]"):
        parse_settings("channels:\n  m: {type: email, host: h, sender: a, to: [b]}\nroutes:\n  - {channels: [nope]}\n")
    with pytest.raises(ConfigError, match="channels.m"):
        parse_settings("channels:\n  m: {type: pager}\nroutes:\n  - {channels: [m]}\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_settings("channels: [")


# -- routing and throttling ----------------------------------------------------------------------


def test_routing_by_camera_glob_and_event_type():
    routes = parse_settings(CONFIG).routes
    assert routing.channels_for(routes, "ridge-1", "open") == ["hook", "chat", "mail"]
    assert routing.channels_for(routes, "ridge-1", "update") == ["mail"]
    assert routing.channels_for(routes, "valley-2", "close") == ["mail"]
    assert routing.channels_for(routes[:1], "valley-2", "open") == []


def test_at_most_one_update_per_interval_then_the_close_always():
    gate = UpdateGate(timedelta(minutes=10))
    assert gate.decide("A", "open", T0) == (True, "open")
    assert gate.decide("A", "update", T0 + timedelta(minutes=3))[0] is False  # too soon after the open
    assert gate.decide("A", "update", T0 + timedelta(minutes=10)) == (True, "update")
    assert gate.decide("A", "update", T0 + timedelta(minutes=10)) == (True, "update")  # the same one, redelivered
    assert gate.decide("A", "update", T0 + timedelta(minutes=15))[0] is False
    assert gate.decide("B", "update", T0 + timedelta(minutes=15))[0] is True  # per alert
    assert gate.decide("A", "close", T0 + timedelta(minutes=16)) == (True, "close")
    assert gate.decide("A", "update", T0 + timedelta(minutes=40)) == (False, "the alert is already closed")


# -- retries ------------------------------------------------------------------------------------


def test_retries_back_off_exponentially_and_stop_at_a_permanent_error():
    assert backoff_delays(5, 0.5, 3.0) == [0.5, 1.0, 2.0, 3.0]
    slept, calls = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ChannelError("HTTP 503")

    assert with_retries(flaky, attempts=5, initial_s=0.5, max_s=3, sleep=slept.append, jitter=lambda: 1.0) == (3, None)
    assert slept == [0.5, 1.0]
    tries, error = with_retries(
        lambda: (_ for _ in ()).throw(ChannelError("HTTP 404", permanent=True)),
        attempts=5, initial_s=0.5, max_s=3, sleep=slept.append,
    )  # fmt: skip
    assert (tries, error.reason) == (1, "HTTP 404")


# -- the message --------------------------------------------------------------------------------


def test_an_open_alert_notice_has_camera_time_probability_box_and_link():
    note = message.notice(event(), "https://console.example.org/")
    assert note.title == "FIRE ALERT on camera ridge-1"
    assert note.link == "https://console.example.org/alerts/ridge-1-A"
    assert "Box: x 0.10-0.30, y 0.20-0.45" in note.text and "peak 0.930" in note.text
    assert "2026-07-01T12:00:00Z" in note.text
    slack = message.slack_payload(note, None)
    assert slack["text"] == note.text and "<https://console.example.org/alerts/ridge-1-A|" in json.dumps(slack)
    body = json.loads(message.webhook_body(note, None))
    assert body["box"] == event()["peak_box"] and body["payload"] == event() and body["thumbnail"] is None
    health = message.notice({"camera_id": "c9", "event": "frozen", "event_time": "t", "reason": "same picture"}, None)
    assert (health.kind, health.title) == ("camera_health", "Camera c9: frozen") and "same picture" in health.text


def test_the_thumbnail_is_the_peak_frame_scaled_down_and_says_which_frame_it_is():
    from PIL import Image

    assert peak_picture(event()) == ("gs://b/ridge-1/f2.jpg", "peak frame ridge-1/f2")
    overlay = peak_picture(event(peak_frame_key="ridge-1/f9"))
    assert overlay[0] == "gs://b/overlays/f1.png" and "explanation overlay" in overlay[1]
    assert peak_picture(event(peak_frame_key="x/y", explanation_uri=None, frame_uris=["x/y"])) is None
    big = io.BytesIO()
    Image.new("RGB", (1600, 900), (200, 80, 10)).save(big, format="PNG")
    thumb, why = fetch_thumbnail(event(), 320, read=lambda uri: big.getvalue())
    assert why is None and thumb.label == "peak frame ridge-1/f2"
    assert Image.open(io.BytesIO(thumb.jpeg)).size == (320, 180)
    none, why = fetch_thumbnail(event(), 320, read=lambda uri: b"not an image")
    assert none is None and "gs://b/ridge-1/f2.jpg" in why


# -- the notifier with recording channels ---------------------------------------------------------


class Recorder:
    def __init__(self, failing=()):
        self.failing = set(failing)
        self.sent, self.published = [], []

    def send(self, channel, note, thumb, timeout):
        if channel.type in self.failing:
            raise ChannelError("ConnectionError: refused")
        self.sent.append((channel.type, note.event))

    def publish(self, data, attributes):
        self.published.append((data, attributes))


def notifier(rec, publish=None):
    settings = resolve_settings(parse_settings(CONFIG), environ={"HOOK_SECRET": "k", "SLACK_URL": "http://s"},
                                read_secret=lambda n: "t")  # fmt: skip
    policy = DeliveryPolicy(console_url="http://console", attempts=3, initial_backoff_s=0)
    return Notifier(settings, policy, publish or rec.publish, send=rec.send, thumbnail=lambda e, px: (None, "none"),
                    sleep=lambda s: None)  # fmt: skip


def parts(ev):
    from firewatch.core.alerts import alert_message_parts

    return alert_message_parts(ev)


def test_each_routed_channel_gets_the_message_once_even_when_it_is_delivered_again():
    rec = Recorder()
    n = notifier(rec)
    data, attrs = parts(event())
    assert n.handle(data, attrs, "m1").sent == ["hook", "chat", "mail"]
    assert sorted(rec.sent) == [("email", "open"), ("slack", "open"), ("webhook", "open")]
    again = n.handle(data, attrs, "m1")
    assert again.ack and again.sent == [] and len(rec.sent) == 3
    assert n.handle(*parts(event("update", T0 + timedelta(minutes=1))), "m2").skipped.startswith("throttled")
    assert n.handle(*parts(event("close", T0 + timedelta(minutes=2))), "m3").sent == ["hook", "chat", "mail"]
    assert rec.sent[3:] == [("webhook", "close"), ("slack", "close"), ("email", "close")]
    assert rec.published == []


def test_an_unreachable_channel_goes_to_the_undeliverable_topic_with_its_reason():
    rec = Recorder(failing={"slack"})
    data, attrs = parts(event())
    outcome = notifier(rec).handle(data, attrs, "m1")
    assert outcome.ack and sorted(outcome.sent) == ["hook", "mail"]
    ((pub_data, pub_attrs),) = rec.published
    assert pub_data == data and pub_attrs["channel"] == "chat" and pub_attrs["attempts"] == "3"
    assert pub_attrs["reason"] == "slack channel chat: ConnectionError: refused"
    assert pub_attrs["alert_id"] == "ridge-1-A" and pub_attrs["original_message_id"] == "m1"


def test_a_message_is_left_unacked_when_the_undeliverable_topic_refuses_it_and_retried_only_where_it_failed():
    rec = Recorder(failing={"slack"})

    def down(data, attributes):
        raise RuntimeError("topic unavailable")

    n = notifier(rec, publish=down)
    data, attrs = parts(event())
    assert n.handle(data, attrs, "m1").ack is False
    sent_first = len(rec.sent)
    rec.failing.clear()
    assert n.handle(data, attrs, "m1").ack is True  # redelivered: only slack is tried again
    assert len(rec.sent) == sent_first + 1 and rec.sent[-1] == ("slack", "open")


def test_an_unreadable_message_is_reported_not_dropped():
    rec = Recorder()
    outcome = notifier(rec).handle(b"\xff not json", {"event": "open"}, "m9")
    assert outcome.ack and rec.sent == []
    assert rec.published[0][1]["reason"].startswith("unreadable event")
    broken = {**event(), "peak_box": {"x_min": 0.1}}  # a box without its other corners
    assert notifier(rec).handle(json.dumps(broken).encode(), {}, "m10").ack and rec.sent == []
    reason = rec.published[1][1]["reason"]
    assert reason == "unreadable event: ValueError('alert event does not fit its type: peak_box.y_min: Field required')"


# -- the push endpoint (Cloud Run) --------------------------------------------------------------


def test_the_push_endpoint_acks_only_what_was_delivered_or_reported():
    import base64

    from fastapi.testclient import TestClient

    from firewatch.notify.push import create_app

    rec = Recorder()
    published_ok = [True]

    def publish(data, attributes):
        if not published_ok[0]:
            raise RuntimeError("topic unavailable")
        rec.published.append((data, attributes))

    client = TestClient(create_app(notifier(rec, publish=publish)))
    data, attrs = parts(event())
    envelope = {"message": {"data": base64.b64encode(data).decode(), "attributes": attrs, "messageId": "7"},
                "subscription": "projects/p/subscriptions/notify"}  # fmt: skip
    answer = client.post("/", json=envelope)
    assert answer.status_code == 200 and answer.json()["sent"] == ["hook", "chat", "mail"]
    assert client.post("/", json={"message": {"data": "%%%"}}).status_code == 400
    assert client.post("/", content=b"not json").status_code == 400
    rec.failing.add("email")
    published_ok[0] = False
    closing = parts(event("close", T0 + timedelta(minutes=1)))
    envelope["message"].update(data=base64.b64encode(closing[0]).decode(), attributes=closing[1])
    assert client.post("/pubsub", json=envelope).status_code == 503  # Pub/Sub delivers it again
    published_ok[0] = True
    again = client.post("/pubsub", json=envelope)
    assert again.status_code == 200 and again.json() == {"sent": [], "undeliverable": ["mail"], "skipped": None}
    assert rec.published[0][1]["reason"] == "email channel mail: ConnectionError: refused"
