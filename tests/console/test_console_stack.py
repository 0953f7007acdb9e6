"""The console's routes against the local stack (TestClient, no browser): the evidence of an alert,
verdicts written once per form, history kept, refusals (CSRF, bucket allow-list, bad ids)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from firewatch.console.app import create_app
from firewatch.console.store import ConsoleStore
from tests.fixtures.console_seed import console_config, seed_alert

pytestmark = pytest.mark.stack


def _form(html: str) -> dict[str, str]:
    return {
        "csrf": re.search(r'name="csrf" value="([^"]+)"', html).group(1),
        "feedback_id": re.search(r'name="feedback_id" value="([^"]+)"', html).group(1),
    }


def test_alert_page_shows_frames_plot_overlay_and_model(console) -> None:
    client, seeded, _, names = console
    page = client.get(f"/alerts/{seeded.alert_id}")
    assert page.status_code == 200, page.text
    html = page.text
    assert "controlled-v1" in html and seeded.alert_id in html
    assert html.count("<circle") == len(seeded.fire_keys)  # one point per frame of the episode (first..last)
    strip = html[html.index('id="frames"') :]  # the frames section (the peak frame is also shown above it)
    positions = [strip.index(f"frames/{seeded.camera_id}/f{i}.png") for i in range(2, 6)]
    assert positions == sorted(positions)  # capture order
    assert 'id="overlay"' in html
    overlay = client.get("/image", params={"uri": seeded.overlay_uri})
    assert overlay.status_code == 200 and overlay.headers["content-type"] == "image/png"
    assert overlay.content.startswith(b"\x89PNG")


def test_alert_page_draws_each_frames_fire_boxes_and_the_peak_box(console) -> None:
    client, seeded, _, _ = console
    html = client.get(f"/alerts/{seeded.alert_id}").text
    assert "x 0.30–0.70, y 0.20–0.60" in html[html.index('id="peak-box"') :]
    strip = html[html.index('id="frames"') :]
    figures = {
        m.group(1): m.group(2)
        for m in re.finditer(r'<figure data-frame-key="([^"]+)">(.*?)</figure>', strip, re.DOTALL)
    }
    assert set(figures) == set(seeded.fire_keys)  # the episode's frames, first fire frame to last
    for key in seeded.fire_keys:
        drawn = re.findall(r'class="(fire|peak)-box" data-box="([^"]+)"', figures[key])
        expected = [("fire", ",".join(f"{b[k]:.4f}" for k in ("x_min", "y_min", "x_max", "y_max")))
                    for b in seeded.fire_boxes[key]]  # fmt: skip
        if key == seeded.peak_key:
            expected.append(("peak", "0.3000,0.2000,0.7000,0.6000"))
        assert drawn == expected, key
    assert "<svg" not in figures[seeded.fire_keys[0]]  # scored without regions (empty fire_boxes): nothing drawn
    peak = html[html.index('id="peak-frame"') : html.index('id="frames"')]
    assert peak.count('class="fire-box"') == 2 and peak.count('class="peak-box"') == 1


def test_lists_and_board(console) -> None:
    client, seeded, _, _ = console
    listing = client.get("/")
    assert listing.status_code == 200 and seeded.alert_id in listing.text and "update" in listing.text
    board = client.get("/cameras").text
    assert seeded.camera_id in board and seeded.alert_id in board  # open alert on the board
    assert "0.960" in board  # last frame's probability


def test_verdict_double_submit_writes_once_and_a_change_keeps_history(console) -> None:
    client, seeded, store, _ = console
    form = _form(client.get(f"/alerts/{seeded.alert_id}").text)
    body = {**form, "verdict": "false_alarm", "category": "industrial_smoke", "note": "chimney at the mill"}
    for _ in range(2):  # a double click: the same form twice
        response = client.post(f"/alerts/{seeded.alert_id}/verdict", data=body, follow_redirects=False)
        assert response.status_code == 303
    rows = store.feedback(seeded.alert_id)
    assert len(rows) == 1
    row = rows[0]
    assert (row["verdict"], row["category"], row["operator"], row["model_version"]) == (
        "false_alarm", "industrial_smoke", "local", "controlled-v1"
    )  # fmt: skip
    assert list(row["frame_keys"]) == seeded.fire_keys
    page = client.get(f"/alerts/{seeded.alert_id}").text
    second = _form(page)
    assert second["feedback_id"] != form["feedback_id"]
    client.post(f"/alerts/{seeded.alert_id}/verdict", data={**second, "verdict": "fire_confirmed"})
    rows = store.feedback(seeded.alert_id)
    assert [r["verdict"] for r in rows] == ["false_alarm", "fire_confirmed"]
    assert 'current: <span class="tag fire_confirmed">' in client.get(f"/alerts/{seeded.alert_id}").text


def test_missed_fire_marks_one_frame(console) -> None:
    client, seeded, store, _ = console
    html = client.get(f"/cameras/{seeded.camera_id}").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    key = re.search(r'name="feedback_id" value="([^"]+)"', html).group(1)
    body = {"csrf": csrf, "feedback_id": key, "frame_key": seeded.frame_keys[0]}
    assert client.post("/frames/missed-fire", data=body, follow_redirects=False).status_code == 303
    rows = store.feedback(f"frame:{seeded.frame_keys[0]}")
    assert len(rows) == 1 and rows[0]["verdict"] == "missed_fire" and rows[0]["alert_id"] is None
    assert "marked fire by local" in client.get(f"/cameras/{seeded.camera_id}").text


def test_refusals(console) -> None:
    client, seeded, store, names = console
    form = _form(client.get(f"/alerts/{seeded.alert_id}").text)
    no_csrf = client.post(f"/alerts/{seeded.alert_id}/verdict", data={"feedback_id": form["feedback_id"],
                                                                         "verdict": "fire_confirmed"})  # fmt: skip
    assert no_csrf.status_code == 403 and "security token" in no_csrf.text
    cross = client.post(
        f"/alerts/{seeded.alert_id}/verdict", data={**form, "verdict": "fire_confirmed"},
        headers={"Origin": "https://evil.example"},
    )  # fmt: skip
    assert cross.status_code == 403
    no_category = client.post(f"/alerts/{seeded.alert_id}/verdict", data={**form, "verdict": "false_alarm"})
    assert no_category.status_code == 400 and "needs a category" in no_category.text
    assert store.feedback(seeded.alert_id) == []
    for uri in (
        "gs://other-bucket/frames/x.png",
        f"gs://{names.frames_bucket}/frames/../../etc/passwd",
        "https://example.com/x.png",
        "/etc/passwd",
    ):
        assert client.get("/image", params={"uri": uri}).status_code == 400, uri
    assert client.get("/alerts/bad id with spaces").status_code == 400
    assert client.get("/alerts/no-such-alert").status_code == 404


def test_exposed_console_needs_an_operator_and_records_who(gcp_resources, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    from firewatch.console.config import TOKENS_VAR

    token = "s3cret-token-for-alice-0001"
    monkeypatch.setenv(TOKENS_VAR, f"alice={token}")
    seeded = seed_alert(gcp_resources)
    config = console_config(gcp_resources, live=False, host="0.0.0.0", trust_iap=True)
    store = ConsoleStore(config, gcp_resources.project)
    with TestClient(create_app(config, store), base_url="https://console.example") as client:
        assert client.get(f"/alerts/{seeded.alert_id}").status_code == 401
        page = client.get("/", headers={"Accept": "text/html"}, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login"
        assert client.get("/", headers={"Authorization": "Bearer wrong-token-xxxxxxxx"}).status_code == 401
        iap = {"X-Goog-Authenticated-User-Email": "accounts.google.com:carol@example.com"}
        assert "carol@example.com" in client.get("/", headers=iap).text
        login_csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
        assert client.post("/login", data={"token": token}).status_code == 403  # login forms are CSRF-checked too
        assert client.post("/login", data={"token": "nope", "csrf": login_csrf}).status_code == 401
        login = client.post("/login", data={"token": token, "csrf": login_csrf}, follow_redirects=False)
        assert login.status_code == 303
        form = _form(client.get(f"/alerts/{seeded.alert_id}").text)
        client.post(f"/alerts/{seeded.alert_id}/verdict", data={**form, "verdict": "fire_confirmed"})
    rows = store.feedback(seeded.alert_id)
    assert [(r["verdict"], r["operator"]) for r in rows] == [("fire_confirmed", "alice")]


def test_the_console_command_serves_the_pages(gcp_resources, tmp_path) -> None:
    """`firewatch console` itself: flags -> config -> app -> uvicorn on 127.0.0.1."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    seeded = seed_alert(gcp_resources)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    names = gcp_resources
    cmd = [sys.executable, "-m", "firewatch.cli", "console", "--port", str(port), "--project", names.project,
           "--dataset", names.dataset, "--alerts-subscription", names.console_alerts_subscription,
           "--allowed-buckets", names.frames_bucket]  # fmt: skip
    log = open(tmp_path / "console.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "console.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "console did not answer within 60 s"
                time.sleep(0.3)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as response:
            html = response.read().decode()
        assert seeded.alert_id in html and 'operator: <b id="operator">local</b>' in html
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_monitoring_page(console) -> None:
    from firewatch.cloud.bigquery_rows import insert_rows

    client, seeded, _, names = console
    dead = {"received_at": seeded.started.isoformat(), "stage": "decode", "reason": "bad image", "mode": "streaming"}
    insert_rows(names.table_id("dead_letters_table"), [dead])
    html = client.get("/monitoring", params={"hours": 1, "bucket_minutes": 5}).text
    assert f'id="monitor-{seeded.camera_id}"' in html and "6 frames" in html and "controlled-v1" in html
    assert "<th>decode</th>" in html and html.count("<svg") >= 5
    bad = client.get("/monitoring", params={"hours": 1, "bucket_minutes": 0})
    assert bad.status_code == 400 and "bucket_minutes" in bad.text
    assert client.get("/monitoring", params={"hours": "soon"}).status_code == 400


def test_upload_with_a_broken_model_says_so(gcp_resources, tmp_path) -> None:
    from fastapi.testclient import TestClient

    from firewatch.console.scoring import UploadScorer

    config = console_config(gcp_resources, live=False, model=str(tmp_path / "no-model"))
    app = create_app(config, ConsoleStore(config, gcp_resources.project), scorer=UploadScorer(config.model))
    with TestClient(app, base_url="http://127.0.0.1:8080") as client:
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/upload").text).group(1)
        bad = client.post("/upload", data={"csrf": csrf}, files={"image": ("x.png", b"not an image", "image/png")})
        assert (
            bad.status_code == 503
            and "could not be loaded" in bad.text
            and "not an exported Firewatch model" in bad.text
        )


def test_upload_refuses_what_is_not_an_image_and_oversized_files(gcp_resources, controlled_model_dir) -> None:
    from fastapi.testclient import TestClient

    from firewatch.console.scoring import UploadScorer

    config = console_config(gcp_resources, live=False, model=str(controlled_model_dir), max_upload_bytes=1000)
    app = create_app(config, ConsoleStore(config, gcp_resources.project), scorer=UploadScorer(config.model))
    with TestClient(app, base_url="http://127.0.0.1:8080") as client:
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/upload").text).group(1)
        bad = client.post("/upload", data={"csrf": csrf}, files={"image": ("x.png", b"<svg/>", "image/png")})
        assert bad.status_code == 400 and "not scored: not a recognised image format" in bad.text
        big = client.post("/upload", data={"csrf": csrf}, files={"image": ("x.png", b"0" * 2000, "image/png")})
        assert big.status_code == 413 and "larger than 1000 bytes" in big.text
        no_csrf = client.post("/upload", files={"image": ("x.png", b"<svg/>", "image/png")})
        assert no_csrf.status_code == 403


def test_every_picture_on_the_alert_page_names_its_frame(console) -> None:
    """The peak frame and the explanation overlay each say which frame they are. When the peak frame
    was not explained, the overlay shown (the alert's evidence, another frame's) is named as that frame,
    never under the peak frame's name."""
    from firewatch.cloud.bigquery_rows import insert_rows

    client, seeded, _, names = console
    html = client.get(f"/alerts/{seeded.alert_id}").text
    peak = html[html.index('id="peak-caption"') :]
    assert peak[: peak.index("</figcaption>")].count(seeded.peak_key) == 1
    caption = html[html.index('id="overlay-caption"') :]
    caption = caption[: caption.index("</figcaption>")]
    assert "explanation of the peak frame" in caption and seeded.peak_key in caption

    # a later alert whose peak frame (f5) was not explained: its evidence is f4's overlay
    later = seeded.frame_keys[5]
    event = {
        "alert_id": f"{seeded.alert_id}-b", "camera_id": seeded.camera_id, "event": "open",
        "event_time": (seeded.started + dt.timedelta(seconds=6)).isoformat(),
        "first_frame_at": (seeded.started + dt.timedelta(seconds=2)).isoformat(),
        "last_frame_at": (seeded.started + dt.timedelta(seconds=5)).isoformat(), "fire_frames": 3,
        "peak_probability": 0.999, "mean_probability": 0.97, "peak_frame_key": later,
        "explanation_uri": seeded.overlay_uri, "model_version": "controlled-v1",
    }  # fmt: skip
    insert_rows(names.table_id("alerts_table"), [event])
    html = client.get(f"/alerts/{seeded.alert_id}-b").text
    peak = html[html.index('id="peak-caption"') :]
    assert later in peak[: peak.index("</figcaption>")]
    caption = html[html.index('id="overlay-caption"') :]
    caption = caption[: caption.index("</figcaption>")]
    assert "explanation of frame" in caption and "not the peak frame" in caption
    assert seeded.peak_key in caption and later not in caption
    assert f'alt="explanation overlay of {seeded.peak_key}"' in html
