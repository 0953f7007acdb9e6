"""Exclusion masks in the scoring step (local runner, no emulators) and the process-wide mask cache:
refreshed in the background, last good masks kept when a read fails, failures counted."""

from __future__ import annotations

import datetime as dt
import io
import threading

import apache_beam as beam
import numpy as np
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from PIL import Image

from firewatch.beam.masks import MaskCache, MaskSource
from firewatch.beam.scoring import ScoreFrames
from firewatch.core.contract import FrameRequest, MessageLimits
from firewatch.core.masks import CameraMask, mask_row
from tests.beam.test_scoring import INFO, ColourModel

T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)


def _mask(camera: str, version: int, rects: list) -> dict:
    mask = CameraMask(camera_id=camera, version=version, rectangles=rects)
    return mask_row(mask, mask_id=f"{camera}-v{version}".ljust(16, "x"), operator="o", created_at=T0)


def left_half_masks() -> list[dict]:
    """Module-level (picklable) reader: cam-1's left half is masked; cam-3's mask was cleared."""
    return [_mask("cam-1", 1, [[0.0, 0.0, 0.5, 1.0]]), _mask("cam-3", 1, [[0, 0, 1, 1]]), _mask("cam-3", 2, [])]


def half_red_png(size: int = 24) -> bytes:
    """Red (fire for ColourModel) on the left half, blue on the right: p = 0.5 unmasked."""
    pixels = np.zeros((size, size, 3), np.uint8)
    pixels[:, : size // 2, 0] = 255
    pixels[:, size // 2 :, 2] = 128
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_cameras_mask_is_blanked_before_inference_and_its_version_recorded():
    data = half_red_png()
    requests = [
        FrameRequest(camera_id=cam, frame_id=cam, image_bytes=data, message_id=cam)
        for cam in ("cam-1", "cam-2", "cam-3")
    ]
    pipeline = TestPipeline(runner="BundleBasedDirectRunner")
    masks = MaskSource(reader=left_half_masks)
    scored = (
        pipeline
        | beam.Create(requests)
        | ScoreFrames(INFO, MessageLimits(), "batch", loader=lambda _: ColourModel(), masks=masks)
    )
    out = scored["predictions"] | beam.Map(lambda p: (p.camera_id, p.label, p.mask_version))
    # cam-1: the red half blanked -> only blue is left -> clear; cam-2: no mask; cam-3: cleared (v2).
    assert_that(out, equal_to([("cam-1", "no_fire", 1), ("cam-2", "fire", None), ("cam-3", "fire", 2)]))
    pipeline.run().wait_until_finish()


class FlakyTable:
    """A masks table whose reads the test controls: rows to return, or an error to raise."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.error: Exception | None = None
        self.reads = 0
        self.release = threading.Event()
        self.release.set()

    def __call__(self) -> list[dict]:
        self.release.wait(10)
        self.reads += 1
        if self.error is not None:
            raise self.error
        return list(self.rows)


def test_cache_refreshes_in_the_background_and_keeps_the_last_good_masks():
    table, now = FlakyTable(), [0.0]
    table.rows = [_mask("cam-1", 1, [[0, 0, 0.5, 0.5]])]
    cache = MaskCache(MaskSource(reader=table, refresh_seconds=30), clock=lambda: now[0])
    assert cache.wait_first(5) and cache.current()["cam-1"].version == 1
    assert cache.take_counts() == (1, 0)

    table.rows.append(_mask("cam-1", 2, [[0, 0, 1, 1]]))
    assert cache.current()["cam-1"].version == 1 and table.reads == 1  # not due yet: no read
    now[0] = 31.0
    table.release.clear()  # a slow read: current() answers at once with what it has
    assert cache.current()["cam-1"].version == 1
    table.release.set()
    _join(cache)
    assert cache.current()["cam-1"].version == 2 and table.reads == 2

    table.error = RuntimeError("BigQuery is down")
    now[0] = 62.0
    cache.current()
    _join(cache)
    assert cache.current()["cam-1"].version == 2  # the last good masks are kept
    assert cache.failures == 1 and "BigQuery is down" in (cache.last_error or "")
    assert cache.take_counts() == (1, 1)  # one more good read, one failed, since the last take
    assert cache.refresh_now() is False


def _join(cache: MaskCache) -> None:
    loading = cache._loading
    if loading is not None:
        loading.join(10)
