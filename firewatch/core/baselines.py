"""Per-camera baselines: each region's threshold rises above what that place scored on quiet days.

A fixed camera sees the same things every day: a chimney, a road with headlights at dusk, a roof
that catches the low sun at 17:00. Fuego (Govil et al. 2020) raises each square's threshold to
that square's recent maximum for the same camera and time of day. Firewatch does the same per
region of the full-resolution grid (`firewatch.core.regions`):

* every prediction row records the scores of its regions that reached `record_floor`
  (`region_scores`: region key and probability; most regions of a quiet frame record nothing);
* `firewatch baselines update` (a scheduled job) keeps, per camera, model version, hour of day
  (UTC) and region, the maximum of those scores over the last `days`, leaving out the frames inside
  an alert (unless an operator judged that alert a false alarm) and the last `settle_minutes` (a
  fire that has not alerted yet must not raise its own bar), in the `region_baselines` table (`update_sql`);
* the scoring step reads that table like the masks (a process-wide cache refreshed every
  `refresh_seconds`) and judges region i at hour h by
  `max(model threshold, min(baseline(i, h) + margin, max_threshold))` (`region_thresholds`);
* the row records the threshold the frame was judged by (`firewatch.core.regions.summarise`): the
  firing region's when a region fired, else the most probable region's, so `label` is always
  `fire_probability >= threshold`.

A new model version starts without baselines (its scores are not comparable). Pure functions; the
Beam side is `firewatch.beam.baselines`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from firewatch.core.regions import Region

Key = tuple[str, int, str]  # (model_version, hour of day UTC, region key)


class BaselineConfig(BaseModel):
    """How regions' thresholds follow their history (one field per pipeline flag, `--baselines-*`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="raise each region's threshold above its recent quiet maximum")
    margin: float = Field(0.02, ge=0.0, le=0.5, description="how far above the region's baseline its threshold sits")
    max_threshold: float = Field(
        0.995, gt=0.0, le=1.0, description="a baseline never raises a region's threshold above this"
    )
    days: int = Field(7, ge=1, le=90, description="history a baseline looks back over (baselines update)")
    settle_minutes: float = Field(
        60.0, ge=0.0, le=1440.0, description="the most recent frames a baseline leaves out (baselines update)"
    )
    record_floor: float = Field(
        0.1, ge=0.0, le=1.0, description="regions scoring at least this are recorded in the row's region_scores"
    )
    refresh_seconds: float = Field(
        600.0, ge=1.0, le=86400.0, description="how often the running job re-reads the baselines table"
    )


def region_key(region: Region, width: int, height: int) -> str:
    """A region's name that stays the same from frame to frame of a camera: level and top-left corner
    as fractions of the frame (the grid depends only on the frame size and the region settings)."""
    return f"{region.level}:{region.x0 / max(width, 1):.3f},{region.y0 / max(height, 1):.3f}"


def hour_of(moment: dt.datetime) -> int:
    return moment.astimezone(dt.UTC).hour


CameraBaselines = dict[Key, float]


def latest_baselines(rows: Iterable[Mapping[str, Any]]) -> dict[str, CameraBaselines]:
    """camera -> {(model_version, hour, region): max probability}, from `region_baselines` rows; each
    camera's latest computation (`computed_at`) wins, so an update replaces the previous one whole."""
    latest: dict[str, Any] = {}
    for row in rows:
        camera, when = str(row["camera_id"]), row["computed_at"]
        if camera not in latest or when > latest[camera]:
            latest[camera] = when
    out: dict[str, CameraBaselines] = {camera: {} for camera in latest}
    for row in rows:
        camera = str(row["camera_id"])
        if row["computed_at"] == latest[camera]:
            key = (str(row["model_version"]), int(row["hour"]), str(row["region"]))
            out[camera][key] = max(float(row["max_probability"]), out[camera].get(key, 0.0))
    return out


def region_thresholds(
    keys: Sequence[str],
    hour: int,
    baselines: CameraBaselines | None,
    model_version: str,
    threshold: float,
    config: BaselineConfig,
) -> np.ndarray:
    """Each region's effective threshold: the model's, raised above the region's baseline (capped)."""
    out = np.full(len(keys), float(threshold), np.float64)
    if not config.enabled or not baselines:
        return out
    for i, key in enumerate(keys):
        base = baselines.get((model_version, hour, key))
        if base is not None:
            out[i] = max(out[i], min(base + config.margin, config.max_threshold))
    return out


def recorded_scores(
    keys: Sequence[str], probabilities: Sequence[float] | np.ndarray, floor: float
) -> tuple[tuple[str, float], ...]:
    """The (region key, probability) pairs a row records: every region at or above the floor."""
    return tuple((k, float(p)) for k, p in zip(keys, probabilities, strict=True) if p >= floor)


def update_sql(predictions: str, alerts: str, feedback: str) -> str:
    """The aggregation `firewatch baselines update` runs (parameters @since, @until, @floor): per
    camera, model version, hour and region, the maximum recorded score of frames outside every alert,
    except alerts whose latest operator verdict is `false_alarm`: what fooled the model there is
    exactly what the baseline must learn (a lamp that opens an alert every evening is judged false
    once and stops alerting at the next update). The caller appends the result to the baselines table
    with one `computed_at` (insertAll works on every BigQuery, the emulator too); readers take the
    latest computation."""
    return f"""
WITH latest AS (
  SELECT alert_id, MAX(judged_at) AS judged_at FROM `{feedback}`
  WHERE alert_id IS NOT NULL GROUP BY alert_id
),
false_alarms AS (
  SELECT f.alert_id FROM `{feedback}` AS f
  JOIN latest AS l ON f.alert_id = l.alert_id AND f.judged_at = l.judged_at
  WHERE f.verdict = 'false_alarm'
),
spans AS (
  SELECT camera_id, alert_id, MIN(first_frame_at) AS started, MAX(last_frame_at) AS ended
  FROM `{alerts}`
  WHERE alert_id NOT IN (SELECT alert_id FROM false_alarms)
  GROUP BY camera_id, alert_id
)
SELECT p.camera_id AS camera_id, p.model_version AS model_version,
       EXTRACT(HOUR FROM p.captured_at) AS hour, r.region AS region,
       MAX(r.probability) AS max_probability, COUNT(*) AS frames
FROM `{predictions}` AS p CROSS JOIN UNNEST(p.region_scores) AS r
WHERE p.captured_at >= @since AND p.captured_at < @until AND r.probability >= @floor
  AND NOT EXISTS (
    SELECT 1 FROM spans AS s
    WHERE s.camera_id = p.camera_id AND p.captured_at BETWEEN s.started AND s.ended
  )
GROUP BY camera_id, model_version, hour, region
""".strip()
