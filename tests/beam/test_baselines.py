"""Region baselines in the scoring step (local runner, no emulators): a place of the camera that
scores high on quiet days is judged by a raised threshold; the rest of the frame is not."""

from __future__ import annotations

import datetime as dt
import io

import apache_beam as beam
import numpy as np
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that
from PIL import Image

from firewatch.beam.baselines import BaselineSource
from firewatch.beam.scoring import ScoreFrames
from firewatch.core.baselines import BaselineConfig, region_key
from firewatch.core.contract import FrameRequest, MessageLimits
from firewatch.core.regions import RegionConfig, plan_regions
from tests.beam.test_scoring import INFO, SIZE, ColourModel

WIDTH, HEIGHT = 192, 128
LAMP = (20, 20, 40, 40)  # a warm lamp that shines every evening (x0, y0, x1, y1)
FIRE = (140, 90, 156, 106)
REGIONS = RegionConfig(scales=(0.25,))
T = dt.datetime(2026, 12, 2, 17, 30, tzinfo=dt.UTC)


def frame(*patches: tuple[int, int, int, int]) -> bytes:
    pixels = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    pixels[..., 2] = 60
    for x0, y0, x1, y1 in patches:
        pixels[y0:y1, x0:x1] = (255, 0, 0)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def lamp_baselines() -> list[dict]:
    """Module-level (picklable) reader: at 17:00 UTC every region touching the lamp scored 0.95."""
    rows = []
    for region in plan_regions(WIDTH, HEIGHT, SIZE, REGIONS):
        if region.x0 < LAMP[2] and region.x1 > LAMP[0] and region.y0 < LAMP[3] and region.y1 > LAMP[1]:
            rows.append({
                "camera_id": "cam-1", "model_version": "colour-v1", "hour": 17,
                "region": region_key(region, WIDTH, HEIGHT), "max_probability": 0.95, "computed_at": T,
            })  # fmt: skip
    return rows


def test_a_place_that_shines_every_evening_does_not_fire_but_a_new_fire_does():
    requests = [
        FrameRequest(camera_id="cam-1", frame_id=name, image_bytes=frame(*patches), captured_at=when, message_id=name)
        for name, patches, when in (
            ("lamp", (LAMP,), T),
            ("lamp+fire", (LAMP, FIRE), T),
            ("lamp-at-noon", (LAMP,), T.replace(hour=12)),  # no baseline for that hour
        )
    ]
    pipeline = TestPipeline(runner="BundleBasedDirectRunner")
    scored = (
        pipeline
        | beam.Create(requests)
        | ScoreFrames(
            INFO,
            MessageLimits(),
            "batch",
            loader=lambda _: ColourModel(),
            regions=REGIONS,
            baselines=BaselineSource(reader=lamp_baselines),
            baseline_config=BaselineConfig(margin=0.02),
        )
    )

    def check(predictions):
        by_id = {p.frame_id: p for p in predictions}
        lamp, both, noon = by_id["lamp"], by_id["lamp+fire"], by_id["lamp-at-noon"]
        assert lamp.label == "no_fire" and lamp.boxes == ()
        assert lamp.threshold == 0.97 and lamp.probability > INFO.threshold  # judged by the lamp's raised bar
        assert both.label == "fire" and both.threshold == INFO.threshold
        fire_box = (FIRE[0] / WIDTH, FIRE[1] / HEIGHT, FIRE[2] / WIDTH, FIRE[3] / HEIGHT)
        assert all(b.box[0] > 0.5 for b in both.boxes)  # only the new fire's regions, not the lamp's
        assert any(b.box[0] <= fire_box[0] and b.box[2] >= fire_box[2] for b in both.boxes)
        assert noon.label == "fire" and noon.threshold == INFO.threshold
        assert lamp.region_scores and all(p >= 0.1 for _, p in lamp.region_scores)  # recorded for the next update

    assert_that(scored["predictions"], check)
    pipeline.run().wait_until_finish()
