"""Day/night configuration: per-camera night thresholds, validated, for night frames only."""

from __future__ import annotations

import pytest

from firewatch.config.options import ConfigError
from firewatch.core.frame_stats import DAY, NIGHT, FrameStats
from firewatch.core.period import NightConfig
from streaming.config import StreamingConfig


def test_night_threshold_applies_to_night_frames_the_cameras_own_first():
    night = NightConfig(threshold=0.7, camera_thresholds=("cam-a=0.9", " cam-b = 0.6"))
    assert night.threshold_for("cam-a", NIGHT, 0.5) == 0.9
    assert night.threshold_for("cam-b", NIGHT, 0.5) == 0.6
    assert night.threshold_for("cam-c", NIGHT, 0.5) == 0.7
    assert {night.threshold_for(c, DAY, 0.5) for c in ("cam-a", "cam-b", "cam-c")} == {0.5}
    assert NightConfig().threshold_for("cam-a", NIGHT, 0.5) == 0.5


def test_period_from_the_configured_brightness():
    stats = FrameStats(brightness=0.2, contrast=0.1, detail=0.05, thumbnail=())
    assert NightConfig(brightness=0.25).period(stats) == NIGHT
    assert NightConfig(brightness=0.1).period(stats) == DAY


@pytest.mark.parametrize("entry", ["cam-a", "cam-a=", "=0.5", "cam-a=1.5", "cam-a=zero"])
def test_bad_camera_entries_are_refused(entry):
    with pytest.raises(ValueError, match="CAMERA=THRESHOLD"):
        NightConfig(camera_thresholds=(entry,))


def test_flags_map_to_the_night_and_health_configs():
    from firewatch.config.options import config_from_mapping

    cfg = config_from_mapping(
        StreamingConfig,
        {
            "model": "/m",
            "night_threshold": "0.8",
            "night_camera_thresholds": ["cam-a=0.9,cam-b=0.7"],
            "health_frozen_minutes": "2",
        },
    )
    assert cfg.night.threshold == 0.8 and cfg.night.per_camera() == {"cam-a": 0.9, "cam-b": 0.7}
    assert cfg.health.frozen_minutes == 2.0
    with pytest.raises(ConfigError, match="--night-camera-thresholds"):
        config_from_mapping(StreamingConfig, {"model": "/m", "night_camera_thresholds": ["cam-a"]})
