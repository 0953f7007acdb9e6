"""Per-camera region baselines: keys, the latest computation, raised thresholds (firewatch.core.baselines)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from firewatch.core.baselines import (
    BaselineConfig,
    hour_of,
    latest_baselines,
    recorded_scores,
    region_key,
    region_thresholds,
)
from firewatch.core.regions import Region, summarise

T1 = dt.datetime(2026, 12, 1, 17, tzinfo=dt.UTC)
T2 = T1 + dt.timedelta(hours=1)


def test_region_keys_name_the_same_place_in_every_frame_of_a_camera():
    assert region_key(Region(480, 270, 750, 540, 2), 1920, 1080) == "2:0.250,0.250"
    assert region_key(Region(0, 0, 1920, 1080, 0), 1920, 1080) == "0:0.000,0.000"
    assert hour_of(dt.datetime(2026, 12, 1, 18, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))) == 16


def test_the_latest_computation_of_each_camera_wins():
    rows = [
        {"camera_id": "a", "model_version": "v1", "hour": 17, "region": "2:0.250,0.250", "max_probability": 0.9,
         "computed_at": T1},
        {"camera_id": "a", "model_version": "v1", "hour": 17, "region": "2:0.500,0.250", "max_probability": 0.7,
         "computed_at": T2},
        {"camera_id": "b", "model_version": "v1", "hour": 3, "region": "1:0.000,0.000", "max_probability": 0.6,
         "computed_at": T1},
    ]  # fmt: skip
    assert latest_baselines(rows) == {
        "a": {("v1", 17, "2:0.500,0.250"): 0.7},  # the older computation's region is gone
        "b": {("v1", 3, "1:0.000,0.000"): 0.6},
    }


def test_a_regions_threshold_rises_above_its_baseline_only_for_its_hour_and_model():
    keys = ["0:0.000,0.000", "2:0.250,0.250", "2:0.500,0.250"]
    base = {("v1", 17, "2:0.250,0.250"): 0.8, ("v1", 17, "2:0.500,0.250"): 0.999, ("v1", 17, "0:0.000,0.000"): 0.2}
    config = BaselineConfig(margin=0.02, max_threshold=0.99)
    assert region_thresholds(keys, 17, base, "v1", 0.5, config).tolist() == pytest.approx([0.5, 0.82, 0.99])
    assert region_thresholds(keys, 18, base, "v1", 0.5, config).tolist() == [0.5] * 3  # another hour
    assert region_thresholds(keys, 17, base, "v2", 0.5, config).tolist() == [0.5] * 3  # another model
    off = BaselineConfig(enabled=False)
    assert region_thresholds(keys, 17, base, "v1", 0.5, off).tolist() == [0.5] * 3


def test_the_frame_records_the_threshold_it_was_judged_by():
    regions = [Region(0, 0, 100, 100, 0), Region(0, 0, 50, 50, 1), Region(50, 50, 100, 100, 1)]
    # region 1 scores highest but its baseline keeps it quiet; region 2 fires at the model's threshold
    scores = summarise(regions, [0.3, 0.85, 0.6], [0.5, 0.9, 0.5], 100, 100)
    assert scores.probability == pytest.approx(0.85) and scores.threshold == 0.5
    assert [b.box for b in scores.boxes] == [(0.5, 0.5, 1.0, 1.0)]
    quiet = summarise(regions, [0.3, 0.85, 0.4], [0.5, 0.9, 0.5], 100, 100)
    assert quiet.boxes == () and quiet.threshold == 0.9 and quiet.probability < quiet.threshold
    assert recorded_scores(["a", "b", "c"], np.array([0.05, 0.85, 0.1]), 0.1) == (("b", 0.85), ("c", 0.1))
