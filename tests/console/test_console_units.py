"""The console's pure parts: image URI gate, operator identity, CSRF, config refusals, board and plot."""

from __future__ import annotations

import datetime as dt

import pytest

from firewatch.console import security
from firewatch.console.config import TOKENS_VAR, ConsoleConfig, operator_tokens
from firewatch.console.images import ImageRefused, image_content_type, parse_object_uri
from firewatch.console.live import parse_alert, sse_message
from firewatch.console.views import camera_board, latest_alert_states, probability_svg

ALLOWED = ("firewatch-frames",)
TOKEN = "t" * 24


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("gs://other-bucket/a.png", "not allow-listed"),
        ("gs://firewatch-frames/a/../../b.png", "segments"),
        ("gs://firewatch-frames//etc/passwd", "leading slash"),
        ("gs://firewatch-frames/a\\b.png", "backslash"),
        ("gs://firewatch-frames/a\nb.png", "control"),
        ("https://example.com/a.png", "only gs:// URIs are fetched, not https://"),
        ("file:///etc/passwd", "only gs:// URIs are fetched, not file://"),
        ("", "not a gs://"),
    ],
)
def test_image_uris_outside_the_allow_list_are_refused(uri, reason) -> None:
    with pytest.raises(ImageRefused, match=reason):
        parse_object_uri(uri, ALLOWED)


def test_an_allowed_uri_and_only_real_images_pass() -> None:
    ref = parse_object_uri("gs://firewatch-frames/frames/cam-1/f 1.png", ALLOWED)
    assert (ref.bucket, ref.name) == ("firewatch-frames", "frames/cam-1/f 1.png")
    with pytest.raises(ImageRefused, match="not a servable image"):
        image_content_type(b"<html><script>alert(1)</script></html>")


def test_operator_identity() -> None:
    tokens = {TOKEN: "alice"}
    ask = dict(tokens=tokens, trust_iap=False, loopback=False)
    assert security.operator_for({"authorization": f"Bearer {TOKEN}"}, {}, **ask) == "alice"
    assert security.operator_for({}, {security.TOKEN_COOKIE: TOKEN}, **ask) == "alice"
    with pytest.raises(security.NotAuthenticated, match="unknown token"):
        security.operator_for({"authorization": "Bearer wrong"}, {}, **ask)
    with pytest.raises(security.NotAuthenticated):  # the IAP header is ignored unless trusted
        security.operator_for({security.IAP_HEADER: "accounts.google.com:bob@example.com"}, {}, **ask)
    iap = dict(tokens={}, trust_iap=True, loopback=False)
    assert security.operator_for({security.IAP_HEADER: "accounts.google.com:bob@example.com"}, {}, **iap) == (
        "bob@example.com"
    )
    with pytest.raises(security.NotAuthenticated, match="malformed"):
        security.operator_for({security.IAP_HEADER: "accounts.google.com:<script>"}, {}, **iap)
    assert security.operator_for({}, {}, tokens={}, trust_iap=False, loopback=True) == "local"


def test_csrf() -> None:
    security.check_csrf("abc", "abc", None, "h:1")
    security.check_csrf("abc", "abc", "http://h:1", "h:1")
    refused = (("abc", "abd", None), (None, "abc", None), ("abc", "abc", "https://evil.example"))
    refused += (("abc", "abc", "null"),)
    for form, cookie, origin in refused:
        with pytest.raises(security.CsrfError):
            security.check_csrf(form, cookie, origin, "h:1")


def test_exposed_binding_needs_an_identity(monkeypatch) -> None:
    monkeypatch.delenv(TOKENS_VAR, raising=False)
    assert ConsoleConfig().host == "127.0.0.1"
    with pytest.raises(ValueError, match="exposes the console"):
        ConsoleConfig(host="0.0.0.0")
    assert ConsoleConfig(host="0.0.0.0", trust_iap=True).trust_iap
    monkeypatch.setenv(TOKENS_VAR, f"alice={TOKEN}")
    assert ConsoleConfig(host="0.0.0.0").host == "0.0.0.0"
    with pytest.raises(ValueError, match="name=token"):
        operator_tokens({TOKENS_VAR: "alice=short"})
    with pytest.raises(ValueError, match="bucket name"):
        ConsoleConfig(allowed_buckets=("gs://firewatch-frames",))


def test_cli_flags_map_to_the_config(monkeypatch) -> None:
    from firewatch.cli.dispatch import main

    monkeypatch.delenv(TOKENS_VAR, raising=False)
    assert main(["console", "--host", "0.0.0.0"]) == 2  # refused with a clear error before serving


T0 = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def test_alert_states_and_camera_board() -> None:
    def ev(alert, camera, event, s):
        return {"alert_id": alert, "camera_id": camera, "event": event, "event_time": T0 + dt.timedelta(seconds=s)}

    states = latest_alert_states([ev("a1", "c1", "open", 0), ev("a1", "c1", "update", 5), ev("a2", "c2", "close", 9)])
    assert [(s["alert_id"], s["event"]) for s in states] == [("a2", "close"), ("a1", "update")]
    frames = [
        {"camera_id": "c1", "captured_at": T0, "fire_probability": 0.9, "label": "fire"},
        {"camera_id": "c2", "captured_at": T0 - dt.timedelta(minutes=30), "fire_probability": 0.1, "label": "no_fire"},
    ]
    board = {row["camera_id"]: row for row in camera_board(frames, states, T0 + dt.timedelta(seconds=10), 300)}
    assert board["c1"]["open_alert"] == "a1" and not board["c1"]["stale"] and board["c1"]["last_probability"] == 0.9
    assert board["c2"]["open_alert"] is None and board["c2"]["stale"]


def test_camera_board_shows_each_cameras_latest_health_state() -> None:
    frames = [
        {"camera_id": "c1", "captured_at": T0, "fire_probability": 0.1, "label": "no_fire"},
        {"camera_id": "c2", "captured_at": T0, "fire_probability": 0.1, "label": "no_fire"},
    ]

    def health(camera, state, s, since=None):
        at = T0 + dt.timedelta(seconds=s)
        return {"camera_id": camera, "state": state, "event_time": at, "condition_since": since, "reason": state}

    events = [
        health("c1", "frozen", 0, since=T0 - dt.timedelta(minutes=3)),
        health("c1", "healthy", 60),
        health("c2", "blind", 30),
        health("c3", "stale", 5),  # a camera with no frame in the window still shows its health
    ]
    board = {r["camera_id"]: r for r in camera_board(frames, [], T0, 300, list(reversed(events)))}
    assert board["c1"]["health"] == "healthy" and board["c2"]["health"] == "blind"
    assert board["c3"]["health"] == "stale" and board["c3"]["last_frame_at"] is None
    assert camera_board(frames, [], T0, 300)[0]["health"] == "healthy"  # never had an event
    frozen = camera_board(frames[:1], [], T0, 300, events[:1])[0]
    assert frozen["health"] == "frozen" and frozen["health_since"] == T0 - dt.timedelta(minutes=3)


def test_probability_plot_has_one_point_per_frame_and_the_threshold() -> None:
    svg = probability_svg(
        [{"frame_key": f"k{i}", "fire_probability": p, "label": "fire"} for i, p in enumerate((0.2, 0.9))], 0.5
    )
    assert svg.count("<circle") == 2 and "threshold 0.50" in svg and "<polyline" in svg


def test_live_messages() -> None:
    assert parse_alert(b"not json") is None and parse_alert(b'{"x": 1}') is None
    assert parse_alert(b'{"camera_id": "c", "event": "frozen", "state": "frozen"}') is None  # camera health
    event = parse_alert(b'{"alert_id": "a", "camera_id": "c", "event": "open", "fire_frames": 3}')
    assert event is not None and (event["alert_id"], event["fire_frames"], event["peak_box"]) == ("a", 3, None)
    message = sse_message({"alert_id": "a", "camera_id": "c", "event": "open"})
    assert message == 'event: alert\ndata: {"alert_id": "a", "camera_id": "c", "event": "open"}\n\n'


def test_monitoring_series_per_camera_and_version() -> None:
    from firewatch.console.monitoring import bars_svg, dead_letters_by_stage, series_by_camera

    def row(camera, version, minute, p, latency=None):
        return {"camera_id": camera, "model_version": version, "processed_at": T0 + dt.timedelta(minutes=minute),
                "fire_probability": p, "label": "fire" if p >= 0.5 else "no_fire", "latency_ms": latency}  # fmt: skip

    rows = [row("c1", "v1", 1, 0.9, 100), row("c1", "v1", 2, 0.1, 300), row("c1", "v2", 11, 0.05),
            row("c2", "v1", 12, 0.7), row("c1", "v1", 99, 0.9)]  # fmt: skip
    series = series_by_camera(rows, T0, T0 + dt.timedelta(minutes=20), dt.timedelta(minutes=10))
    assert [(s["camera_id"], s["model_version"], s["frames"]) for s in series] == [
        ("c1", "v1", 2),
        ("c1", "v2", 1),
        ("c2", "v1", 1),
    ]  # fmt: skip  (minute 99 is outside the window)
    first = series[0]["points"]
    assert first[0]["frames_per_s"] == 2 / 600 and first[0]["fire_rate"] == 0.5 and first[0]["p95_latency_ms"] == 300
    assert first[1]["fire_rate"] is None and series[0]["histogram"][9] == 1 and series[0]["histogram"][1] == 1
    assert dead_letters_by_stage([{"stage": "decode"}, {"stage": "decode"}, {"stage": "fetch"}]) == {
        "decode": 2, "fetch": 1}  # fmt: skip
    assert bars_svg([1.0, None, 3.0], "x").count("<rect") == 2


def test_mask_frame_picks_a_servable_image_and_the_frames_aspect_ratio() -> None:
    from firewatch.console.mask_page import mask_frame, rectangles_json

    frames = [
        {"frame_key": "c/3", "source_uri": None, "image_width": 1920, "image_height": 1080},
        {"frame_key": "c/2", "source_uri": "gs://other-bucket/c/2.jpg", "image_width": 1920, "image_height": 1080},
        {"frame_key": "c/1", "source_uri": "gs://frames-ok/c/1.jpg", "image_width": 1280, "image_height": 960},
    ]
    chosen = mask_frame(frames, ["frames-ok"])
    assert (chosen["uri"], chosen["frame_key"], chosen["height"], chosen["sized"]) == (
        "gs://frames-ok/c/1.jpg", "c/1", 480, True
    )  # fmt: skip
    inline = mask_frame(frames[:2], ["frames-ok"])  # nothing servable: an empty canvas, the frame's aspect
    assert (inline["uri"], inline["height"], inline["sized"]) == (None, 360, True)
    assert mask_frame([], ["frames-ok"])["sized"] is False
    row = {"rectangles": [{"x_min": 0.1, "y_min": 0.2, "x_max": 0.30001, "y_max": 0.4}]}
    assert rectangles_json(row) == "[[0.1, 0.2, 0.3, 0.4]]" and rectangles_json(None) == "[]"


def test_frame_boxes_read_the_rows_boxes_and_tolerate_null_or_empty() -> None:
    from firewatch.console.views import box_of, frame_boxes

    fire = {"x_min": 0.5, "y_min": 0.25, "x_max": 0.75, "y_max": 0.5, "probability": 0.93}
    frame = {"frame_key": "c/1", "fire_boxes": [fire, {"x_min": 0.1, "y_min": 0.1, "x_max": 0.2, "y_max": 0.3}]}
    peak = {"x_min": 0.5, "y_min": 0.25, "x_max": 0.75, "y_max": 0.5}
    drawn = frame_boxes(frame, peak)
    assert [(b["kind"], b["box"], b["probability"]) for b in drawn] == [
        ("fire", (0.5, 0.25, 0.75, 0.5), 0.93),
        ("fire", (0.1, 0.1, 0.2, 0.3), None),
        ("peak", (0.5, 0.25, 0.75, 0.5), None),
    ]
    # NULL, empty or absent fire_boxes (rows from before region scoring), and a null peak box: nothing
    for row in ({"fire_boxes": None}, {"fire_boxes": []}, {}):
        assert frame_boxes(row) == [] and frame_boxes(row, None) == []
    # malformed or out-of-frame records are clipped or skipped, never drawn outside the frame
    assert box_of({"x_min": -0.2, "y_min": 0.5, "x_max": 1.4, "y_max": 0.9}) == (0.0, 0.5, 1.0, 0.9)
    assert box_of({"x_min": 0.5, "y_min": 0.5, "x_max": 0.5, "y_max": 0.9}) is None
    assert box_of({"x_min": 0.1}) is None and box_of("0,0,1,1") is None and box_of(None) is None


def test_boxes_svg_lays_the_boxes_over_the_frame_in_percent_of_its_size() -> None:
    import re

    from firewatch.console.views import alert_frame_overlays, boxes_svg, frame_boxes

    frame = {"frame_key": "c/1", "fire_boxes": [{"x_min": 0.5, "y_min": 0.25, "x_max": 0.75, "y_max": 0.5,
                                                 "probability": 0.93}]}  # fmt: skip
    svg = boxes_svg(frame_boxes(frame, {"x_min": 0.1, "y_min": 0.2, "x_max": 0.3, "y_max": 0.6}))
    assert 'viewBox="0 0 100 100"' in svg and 'preserveAspectRatio="none"' in svg and "style=" not in svg
    rects = re.findall(
        r'<rect class="(\w+)-box"[^>]* x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"', svg
    )
    assert [(k, *map(float, v)) for k, *v in rects] == [("fire", 50, 25, 25, 25), ("peak", 10, 20, 20, 40)]
    assert "fire box p=0.930" in svg and "alert peak box" in svg
    assert boxes_svg([]) == ""
    overlays = alert_frame_overlays([frame, {"frame_key": "c/2", "fire_boxes": None}], "c/2", {"x_min": 0, "y_min": 0,
                                    "x_max": 0.5, "y_max": 0.5})  # fmt: skip
    assert "peak-box" not in overlays["c/1"] and overlays["c/1"].count("<rect") == 1  # the peak box: peak frame only
    assert overlays["c/2"].count("<rect") == 1 and "peak-box" in overlays["c/2"]
    assert alert_frame_overlays([{"frame_key": "c/3"}], "c/3", None) == {"c/3": ""}
