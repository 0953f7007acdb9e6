"""A mask saved in the console changes the running pipeline's scores for that camera, without a restart.

`firewatch stream` runs on the local stack with the controlled model (fire = more red than blue) and
a 5-second masks refresh. Two cameras send the same frames: a red (fire) region in the left half, a
blue sky on the right. Both score fire with no mask. Then a mask over the left half of `cam-masked`
is saved through the console's POST route, frames keep coming, and within a minute `cam-masked`'s rows
come with mask_version 1 and a clear score, while `cam-open` still scores fire without a mask.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime

import numpy as np
import pytest

from firewatch.cloud.clients import publisher_client
from infra import resources
from streaming.local import start_stream, stop_stream
from tests.fixtures.console_seed import console_config
from tests.fixtures.streaming_helpers import FrameBatch, png, rows, stream_args, wait_until

pytestmark = pytest.mark.stack
MASKED, OPEN = "cam-masked", "cam-open"
SAVE_TO_ROWS_S = 60  # the bound: "within a minute"


def half_fire_png(rng: np.random.Generator, size: int = 96) -> bytes:
    """Left half hot red (the fire), right half blue sky: the controlled model scores it about 0.88;
    with the left half blanked, about 0.23 (far from the 0.5 threshold both ways)."""
    half = size // 2
    red = np.concatenate([rng.integers(200, 256, (size, half)), rng.integers(0, 50, (size, size - half))], axis=1)
    blue = np.concatenate([rng.integers(0, 50, (size, half)), rng.integers(85, 135, (size, size - half))], axis=1)
    green = rng.integers(60, 120, (size, size))
    return png(np.stack([red, green, blue], axis=-1).astype(np.uint8))


def test_a_mask_saved_in_the_console_reaches_the_running_pipeline(local_stack, controlled_model_dir, tmp_path):
    from fastapi.testclient import TestClient

    from firewatch.console.app import create_app
    from firewatch.console.store import ConsoleStore

    names = resources.ResourceNames(project=local_stack.project).with_suffix(uuid.uuid4().hex[:8])
    resources.apply(names)
    predictions = f"{names.project}.{names.dataset}.{names.predictions_table}"
    rng = np.random.default_rng(5)
    publisher = publisher_client()
    topic = publisher.topic_path(names.project, names.frames_topic)
    batch = FrameBatch(t0=datetime.now(UTC))
    sent = [0]

    def send(n: int = 1) -> None:
        for _ in range(n):
            data = half_fire_png(rng)
            for camera in (MASKED, OPEN):
                batch.frame(camera, sent[0], data)
            sent[0] += 1
        for data, attrs in batch.messages:
            publisher.publish(topic, data, **attrs).result(timeout=30)
        batch.messages.clear()

    def scored(camera: str, where: str = "TRUE") -> list[dict]:
        return rows(
            f"SELECT frame_id, fire_probability, label, mask_version FROM `{predictions}` "
            f"WHERE camera_id = '{camera}' AND {where} ORDER BY frame_id"
        )

    process = start_stream(
        controlled_model_dir, tmp_path / "stream.log", stream_args(names, mask_refresh_seconds="5", explain="false")
    )
    alive = lambda: process.poll() is None  # noqa: E731
    log = lambda: (tmp_path / "stream.log").read_text()[-3000:]  # noqa: E731
    try:
        send(3)
        assert wait_until(lambda: len(scored(MASKED)) >= 3, time.monotonic() + 180, alive), log()
        before = scored(MASKED)
        assert all(r["label"] == "fire" and r["mask_version"] is None for r in before), before

        config = console_config(names, live=False)
        with TestClient(create_app(config, ConsoleStore(config, names.project)), base_url="http://127.0.0.1") as client:
            url = f"/cameras/{MASKED}/mask"
            html = client.get(url).text
            form = {
                "csrf": re.search(r'name="csrf" value="([^"]+)"', html).group(1),
                "mask_id": re.search(r'name="mask_id" value="([^"]+)"', html).group(1),
                "rectangles": "[[0.0, 0.0, 0.5, 1.0]]",
                "note": "the left half",
            }
            assert client.post(url, data=form, follow_redirects=False).status_code == 303
        saved_at = sent[0]

        def masked_rows_arrived() -> bool:
            send()  # the camera keeps sending, one frame every poll
            return bool(scored(MASKED, "mask_version = 1"))

        deadline = time.monotonic() + SAVE_TO_ROWS_S
        assert wait_until(masked_rows_arrived, deadline, alive, every=2.0), log()
        after = scored(MASKED, "mask_version = 1")
        assert all(r["label"] == "no_fire" and r["fire_probability"] < 0.5 for r in after), after
        # Every frame of the masked camera sent after the save is scored with the mask once picked up
        # (never the other way round), and the other camera is unaffected.
        versions = [r["mask_version"] for r in scored(MASKED)]
        assert versions == sorted(versions, key=lambda v: v is not None), versions
        assert wait_until(lambda: len(scored(OPEN)) >= sent[0], time.monotonic() + 60, alive), log()
        other = scored(OPEN, f"frame_id >= '{OPEN}-{saved_at:03d}'")
        assert other and all(r["label"] == "fire" and r["mask_version"] is None for r in other), other
    finally:
        stop_stream(process)
        resources.destroy(names)
