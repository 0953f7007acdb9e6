"""The console driven as an operator would: headless Chromium (Debian's `chromium` + `chromium-driver`,
installed by `make browser-deps`) on the real pages, served by uvicorn against the local stack.

Each test saves a screenshot of its page under its pytest tmp dir and prints the path.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from firewatch.cloud.clients import publisher_client
from firewatch.console.app import create_app
from firewatch.console.live import AlertFeed
from firewatch.console.scoring import UploadScorer
from firewatch.console.store import ConsoleStore
from tests.fixtures.console_seed import console_config, seed_alert
from tests.fixtures.controlled_model import colour_png

pytestmark = pytest.mark.stack
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WAIT_S = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(gcp_resources, controlled_model_dir):
    """(base URL, store, seeded alert, names) of a console served by uvicorn in this process."""
    import uvicorn

    seeded = seed_alert(gcp_resources)
    config = console_config(gcp_resources, model=str(controlled_model_dir))
    store = ConsoleStore(config, gcp_resources.project)
    feed = AlertFeed(gcp_resources.subscription_path("console_alerts_subscription"))
    app = create_app(config, store, feed=feed, scorer=UploadScorer(str(controlled_model_dir)))
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the console did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", store, seeded, gcp_resources
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (Path(CHROMEDRIVER).exists() and shutil.which(CHROMIUM)):
        pytest.fail("Chromium / chromedriver missing: run `make browser-deps` (apt: chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # never let Selenium Manager download a browser
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1000",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver, condition, message: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S).until(condition, message)


def _screenshot(driver, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def test_a_published_alert_appears_live_on_the_list(served, browser, tmp_path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    base, _, seeded, names = served
    browser.get(base + "/")
    _wait(browser, ec.presence_of_element_located((By.ID, f"alert-{seeded.alert_id}")), "seeded alert not listed")
    _wait(browser, lambda d: d.find_element(By.ID, "live-status").get_attribute("data-state") == "connected",
          "the page did not connect to /events")  # fmt: skip
    alert_id = "cam-east-20261123T120000Z-live0001"
    event = {
        "alert_id": alert_id, "camera_id": "cam-east", "event": "open", "event_time": "2026-11-23T12:00:05+00:00",
        "first_frame_at": "2026-11-23T12:00:00+00:00", "last_frame_at": "2026-11-23T12:00:04+00:00",
        "fire_frames": 3, "peak_probability": 0.987, "mean_probability": 0.95, "frame_uris": [],
        "peak_frame_key": None, "explanation_uri": None, "model_version": "controlled-v1",
    }  # fmt: skip
    publisher = publisher_client()
    publisher.publish(
        names.topic_path("alerts_topic"), json.dumps(event).encode(), camera_id="cam-east", event="open",
        alert_id=alert_id,
    ).result(timeout=30)  # fmt: skip
    row = _wait(browser, ec.presence_of_element_located((By.ID, f"alert-{alert_id}")), "live alert did not appear")
    assert "cam-east" in row.text and "0.987" in row.text and "open" in row.text
    rows = browser.find_elements(By.CSS_SELECTOR, "#alert-rows tr")
    assert rows[0].get_attribute("id") == f"alert-{alert_id}"  # newest on top, without a reload
    _screenshot(browser, tmp_path, "live-alert-list")


def test_false_alarm_double_click_writes_exactly_one_row(served, browser, tmp_path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select

    base, store, seeded, _ = served
    browser.get(f"{base}/alerts/{seeded.alert_id}")
    _wait(browser, ec.presence_of_element_located((By.ID, "false-alarm")), "alert page has no verdict form")
    overlay = browser.find_element(By.ID, "overlay")
    _wait(browser, lambda d: d.execute_script("return arguments[0].naturalWidth", overlay) > 0, "overlay not loaded")
    Select(browser.find_element(By.ID, "category")).select_by_value("sun_glare")
    browser.find_element(By.ID, "note").send_keys("low sun on the lens")
    ActionChains(browser).double_click(browser.find_element(By.ID, "false-alarm")).perform()
    current = _wait(browser, ec.presence_of_element_located((By.ID, "current-verdict")), "no verdict shown")
    assert "false alarm" in current.text and "sun / glare" in current.text
    rows = store.feedback(seeded.alert_id)
    assert len(rows) == 1, rows
    assert (rows[0]["verdict"], rows[0]["category"], rows[0]["note"]) == (
        "false_alarm",
        "sun_glare",
        "low sun on the lens",
    )
    _screenshot(browser, tmp_path, "alert-false-alarm")


def test_the_alert_page_draws_the_fire_boxes_over_the_frames_where_they_are(served, browser, tmp_path) -> None:
    """Each drawn box sits over its image at its fractions of the frame (checked on the rendered
    page, to the pixel), for the frames strip and the larger peak frame, under the console's CSP."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    base, _, seeded, _ = served
    browser.get(f"{base}/alerts/{seeded.alert_id}")
    _wait(browser, ec.presence_of_element_located((By.ID, "peak-frame")), "alert page has no peak frame")
    images = browser.find_elements(By.CSS_SELECTOR, ".shot img")
    _wait(browser, lambda d: all(d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", i)
                                 for i in images), "frames not loaded")  # fmt: skip
    measure = """
        const out = [];
        for (const shot of document.querySelectorAll('.shot')) {
          const img = shot.querySelector('img').getBoundingClientRect();
          for (const rect of shot.querySelectorAll('svg.boxes rect')) {
            const r = rect.getBoundingClientRect();
            out.push({key: shot.closest('figure').dataset.frameKey || 'peak', kind: rect.getAttribute('class'),
                      box: rect.dataset.box, img: [img.left, img.top, img.width, img.height],
                      drawn: [r.left, r.top, r.width, r.height]});
          }
        }
        return out;"""
    drawn = browser.execute_script(measure)
    expected_count = sum(len(b) for b in seeded.fire_boxes.values() if b) + 1  # the strip, with the peak box
    expected_count += len(seeded.fire_boxes[seeded.peak_key]) + 1  # the peak frame above it
    assert len(drawn) == expected_count, drawn
    for entry in drawn:
        x0, y0, x1, y1 = map(float, entry["box"].split(","))
        left, top, width, height = entry["img"]
        want = [left + x0 * width, top + y0 * height, (x1 - x0) * width, (y1 - y0) * height]
        # the stroke (non-scaling, centred on the edge) adds at most its width around the box
        assert all(abs(a - b) <= 3.5 for a, b in zip(entry["drawn"], want, strict=True)), entry
    peak = browser.find_element(By.ID, "peak-frame").find_elements(By.CSS_SELECTOR, "rect.peak-box")
    assert len(peak) == 1 and peak[0].get_attribute("data-box") == "0.3000,0.2000,0.7000,0.6000"
    assert "0.30–0.70" in browser.find_element(By.ID, "peak-box").text
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE" and "favicon.ico" not in e["message"]]
    assert not errors, errors  # nothing refused by the CSP, no broken image
    browser.execute_script("document.getElementById('peak-frame').scrollIntoView()")
    _screenshot(browser, tmp_path, "alert-fire-boxes")


@pytest.mark.parametrize("fire", [True, False])
def test_upload_shows_label_probability_and_overlay(served, browser, tmp_path, fire) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    base, *_ = served
    image = tmp_path / ("red.png" if fire else "blue.png")
    image.write_bytes(colour_png(np.random.default_rng(11), fire, size=128))
    browser.get(base + "/upload")
    browser.find_element(By.ID, "image").send_keys(str(image))
    browser.find_element(By.ID, "score").click()
    label = _wait(browser, ec.presence_of_element_located((By.ID, "label")), "no label after upload")
    probability = float(browser.find_element(By.ID, "probability").text)
    assert label.text == ("fire" if fire else "no_fire")
    assert probability > 0.99 if fire else probability < 0.01
    if fire:
        overlay = browser.find_element(By.ID, "overlay")
        assert browser.execute_script("return arguments[0].naturalWidth", overlay) >= 2 * 256  # original | heat map
    else:  # nothing to explain: the image alone, no heat map or regions
        assert not browser.find_elements(By.ID, "overlay")
        assert "nothing to explain" in browser.find_element(By.ID, "not-explained").text
        shown = browser.find_element(By.ID, "frame")
        assert 0 < browser.execute_script("return arguments[0].naturalWidth", shown) < 2 * 256
    _screenshot(browser, tmp_path, f"upload-{label.text}")


def test_camera_board_and_monitoring_pages(served, browser, tmp_path) -> None:
    from selenium.webdriver.common.by import By

    base, _, seeded, _ = served
    browser.get(base + "/cameras")
    row = browser.find_element(By.ID, f"camera-{seeded.camera_id}")
    assert seeded.alert_id in row.text and "0.960" in row.text
    _screenshot(browser, tmp_path, "camera-board")
    browser.get(base + "/monitoring?hours=1&bucket_minutes=2")
    card = browser.find_element(By.ID, f"monitor-{seeded.camera_id}")
    assert "6 frames" in card.text and len(card.find_elements(By.CSS_SELECTOR, "svg.spark")) == 5
    _screenshot(browser, tmp_path, "monitoring")


def test_drawing_and_saving_an_exclusion_mask(served, browser, tmp_path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    base, store, seeded, _ = served
    browser.get(f"{base}/cameras")
    browser.find_element(By.CSS_SELECTOR, f"#camera-{seeded.camera_id} a[href$='/mask']").click()
    canvas = _wait(browser, ec.presence_of_element_located((By.ID, "mask-canvas")), "no mask canvas")
    _wait(browser, lambda d: canvas.get_attribute("data-loaded") == "1", "the camera's last frame was not drawn")
    width, height = canvas.size["width"], canvas.size["height"]

    def drag(x0: float, y0: float, x1: float, y1: float) -> None:  # fractions of the canvas
        at = lambda fx, fy: (round((fx - 0.5) * width), round((fy - 0.5) * height))  # noqa: E731 - from the centre
        ActionChains(browser).move_to_element_with_offset(canvas, *at(x0, y0)).click_and_hold().move_by_offset(
            round((x1 - x0) * width), round((y1 - y0) * height)
        ).release().perform()

    drag(0.05, 0.05, 0.25, 0.25)  # drawn, then removed
    drag(0.5, 0.2, 0.9, 0.7)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#mask-list li")) == 2
    browser.find_elements(By.CSS_SELECTOR, "#mask-list .mask-remove")[0].click()
    assert len(browser.find_elements(By.CSS_SELECTOR, "#mask-list li")) == 1
    browser.find_element(By.ID, "mask-save").click()
    current = _wait(browser, ec.text_to_be_present_in_element((By.ID, "mask-current"), "version 1"), "not saved")
    assert current
    (row,) = store.masks(seeded.camera_id)
    (rect,) = [dict(r) for r in row["rectangles"]]
    expected = {"x_min": 0.5, "y_min": 0.2, "x_max": 0.9, "y_max": 0.7}
    assert all(abs(rect[k] - v) < 0.02 for k, v in expected.items()), rect
    _screenshot(browser, tmp_path, "exclusion-mask")
