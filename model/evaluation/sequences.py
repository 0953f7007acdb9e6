"""Fires as a fixed camera sees them over time, through the service's own confirmation.

`scripts/bench_fire_sequences.py` runs this (`sequence_report` sums it up); the demo model's quality
suite runs a small slice. Each
simulated camera is one HELD-OUT real photograph without fire (`make real-negatives`; never trained
on) at 1920 x 1080 under a day's light (`camera_view`: exposure, warm dawn and dusk, dark noisy
night, and for every other camera a sodium lamp that is lit from dusk to dawn: the warm things a
camera really sees), with sensor noise and a JPEG round trip per frame. Two measurements:

* **Ignition**: a procedural flame (`model.data.composite`; not a photograph of fire) appears at 1% of
  the frame's height and doubles in height every `doubling_seconds`, one frame every
  `interval_seconds`, by day and at night. Reported: seconds from the flame reaching 3% of the
  frame height to the first alert on the flame (its peak box holds the flame's centre; negative:
  it alerted earlier), and whether a false alert elsewhere in the frame came first.
* **Clear days**: the same cameras without fire. Every `hours_step` hours of two simulated days,
  a window of `n` frames (the confirmation's window) is scored; day 1 is the history that
  `firewatch baselines update` would learn from (every alert an operator judged a false alarm,
  since no camera has a fire), day 2 is measured with the model's threshold alone and with the
  per-camera baselines learned from day 1. Reported: alerts opened per camera and day. A window
  stands for its `hours_step` hours: a condition that fools the model for the whole block opens
  one alert there (the alert stays open while it lasts), so this is the count for scenes whose
  light changes slowly, not for flickering ones.

Frames are scored by exactly what serving calls: `core.regions.cut_regions`, the model,
`core.regions.summarise` with `core.baselines.region_thresholds`, then `core.confirm.step`.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from PIL import Image

from firewatch.core.baselines import BaselineConfig, CameraBaselines, recorded_scores, region_key, region_thresholds
from firewatch.core.confirm import OPEN, CameraState, ConfirmConfig, FrameObservation, flush, step
from firewatch.core.imaging import decode_image
from firewatch.core.regions import Region, RegionConfig, cut_regions, summarise
from model.data.composite import composite_flame, random_placement
from model.evaluation.camera_light import Light, light_at
from model.evaluation.sequence_report import SETTINGS, CameraResult

Predict = Callable[[np.ndarray], np.ndarray]  # model inputs [R, S, S, 3] -> probabilities [R]
DAY = datetime(2026, 6, 1, tzinfo=UTC)
START_HEIGHT = 0.01
ALERT_HEIGHT = 0.03  # the target: an alert within 60 s of the flame reaching 3% of the frame


def camera_view(
    photo: np.ndarray, light: Light, rng: np.random.Generator, lamp_at: tuple[float, float] | None
) -> np.ndarray:
    """The photo as the camera sees it in this light: exposure with a small per-frame flicker, colour
    gain, a lit sodium lamp at `lamp_at` (fractions of the frame) when there is one, sensor noise."""
    out = photo.astype(np.float32) * (light.exposure * float(rng.uniform(0.97, 1.03)))
    out *= np.asarray(light.gain, np.float32)
    if lamp_at is not None and light.lamp:
        height, width = out.shape[:2]
        cx, cy = lamp_at[0] * width, lamp_at[1] * height
        radius = 0.006 * height
        ys, xs = np.ogrid[:height, :width]
        d2 = ((xs - cx) ** 2 + (ys - cy) ** 2) / radius**2
        core = np.clip(1.5 - d2, 0.0, 1.0)[..., None]
        halo = (0.5 * np.exp(-d2 / 16.0))[..., None]
        out = out * (1 - core) + core * np.array([255, 190, 90], np.float32) + halo * np.array([90, 50, 10], np.float32)
    out += rng.normal(0.0, light.noise, out.shape).astype(np.float32)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def jpeg_round_trip(pixels: np.ndarray, quality: int = 85) -> np.ndarray:
    """Encoded as a camera would send it, decoded as the pipeline decodes it."""
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=quality)
    return decode_image(buf.getvalue()).pixels


@dataclass
class Scored:
    """One frame's regions and their probabilities (scored once, judged under several thresholds)."""

    captured_at: datetime
    frame_key: str
    regions: list[Region]
    keys: list[str]
    probabilities: np.ndarray
    width: int
    height: int


@dataclass
class FrameScorer:
    """Frame pixels -> `Scored`, cut and scored as the pipeline does."""

    predict: Predict
    image_size: int
    threshold: float
    model_version: str = "bench"
    regions: RegionConfig = field(default_factory=RegionConfig)

    def score(self, pixels: np.ndarray, captured_at: datetime, frame_key: str) -> Scored:
        regions, inputs = cut_regions(pixels, self.image_size, self.regions)
        height, width = pixels.shape[:2]
        probabilities = np.asarray(self.predict(inputs), np.float64).reshape(-1)
        keys = [region_key(r, width, height) for r in regions]
        return Scored(captured_at, frame_key, regions, keys, probabilities, width, height)

    def judge(self, scored: Scored, baselines: CameraBaselines | None, config: BaselineConfig) -> FrameObservation:
        """The frame's observation for confirmation, with each region's threshold raised by the
        camera's baselines (none: the model's threshold everywhere)."""
        hour = scored.captured_at.hour
        limits = region_thresholds(scored.keys, hour, baselines, self.model_version, self.threshold, config)
        result = summarise(scored.regions, scored.probabilities, limits, scored.width, scored.height)
        return FrameObservation(
            captured_at=scored.captured_at,
            frame_key=scored.frame_key,
            probability=result.probability,
            threshold=result.threshold,
            model_version=self.model_version,
            boxes=tuple(result.boxes),
            peak_box=result.peak_box,
        )


def opened(observations: Sequence[FrameObservation], camera: str, config: ConfirmConfig) -> list[dict]:
    """The OPEN events confirmation raises over these frames (in capture order; the reorder buffer
    flushed at the end, as the wrapper's timer does)."""
    state = CameraState()
    events: list[dict] = []
    for obs in observations:
        events += step(state, camera, obs, config, now=obs.captured_at)
    if observations:
        events += flush(state, camera, config, now=observations[-1].captured_at)
    return [e for e in events if e["event"] == OPEN]


def learn_baselines(history: Sequence[Scored], model_version: str, config: BaselineConfig) -> CameraBaselines:
    """What `firewatch baselines update` keeps for a camera from these frames (its alerts all judged
    false alarms): per hour and region, the maximum recorded score."""
    out: CameraBaselines = {}
    for scored in history:
        for key, p in recorded_scores(scored.keys, scored.probabilities, config.record_floor):
            k = (model_version, scored.captured_at.hour, key)
            out[k] = max(out.get(k, 0.0), p)
    return out


@dataclass(frozen=True)
class Camera:
    name: str
    photo: np.ndarray  # uint8 [1080, 1920, 3]
    index: int
    lamp_at: tuple[float, float] | None


def cameras(frames: Sequence[tuple[str, np.ndarray]], seed: int = 0) -> list[Camera]:
    """One camera per photo; every other camera has a sodium lamp somewhere in its upper two thirds."""
    out = []
    for i, (name, photo) in enumerate(frames):
        rng = np.random.default_rng([seed, i, 7])
        lamp = (float(rng.uniform(0.1, 0.9)), float(rng.uniform(0.15, 0.65))) if i % 2 == 1 else None
        out.append(Camera(name, photo, i, lamp))
    return out


def clear_windows(
    scorer: FrameScorer, camera: Camera, day: int, hours: Sequence[int], n: int, interval: float, seed: int = 0
) -> list[list[Scored]]:
    """For each hour, a window of n frames (interval seconds apart) of the camera without fire, on day
    `day` (0, 1, ...; each day has its own noise and flicker)."""
    windows = []
    for hour in hours:
        rng = np.random.default_rng([seed, camera.index, day, hour])
        start = DAY + timedelta(days=day, hours=hour)
        window = []
        for j in range(n):
            at = start + timedelta(seconds=j * interval)
            pixels = jpeg_round_trip(camera_view(camera.photo, light_at(hour), rng, camera.lamp_at))
            window.append(scorer.score(pixels, at, f"{camera.name}/{at:%Y%m%dT%H%M%S}"))
        windows.append(window)
    return windows


@dataclass
class Ignition:
    """A growing flame's frames (scored) and where the flame is in each."""

    scored: list[Scored]
    boxes: list[tuple[float, float, float, float]]
    heights: list[float]
    reaches_alert_height_at: datetime


def ignition(
    scorer: FrameScorer,
    camera: Camera,
    hour: int,
    interval: float,
    doubling_seconds: float,
    max_seconds: float,
    seed: int = 0,
    stop: Callable[[Ignition], bool] | None = None,
) -> Ignition:
    """Frames of a flame that starts at START_HEIGHT and doubles in height every doubling_seconds,
    at a fixed place (chosen so the flame fits at its largest), flickering from frame to frame;
    scored until max_seconds or until `stop(the ignition so far)` says the outcome is known."""
    rng = np.random.default_rng([seed, camera.index, hour, 11])
    grown = min(0.5, START_HEIGHT * 2 ** (max_seconds / doubling_seconds))
    x, base = random_placement(rng, grown, camera.photo.shape[1] / camera.photo.shape[0])
    smoke = bool(rng.uniform() < 0.5)
    start = DAY + timedelta(days=2, hours=hour)
    reaches = start + timedelta(seconds=doubling_seconds * math.log2(ALERT_HEIGHT / START_HEIGHT))
    out = Ignition([], [], [], reaches)
    for j in range(int(max_seconds // interval) + 1):
        at = start + timedelta(seconds=j * interval)
        height = min(0.5, START_HEIGHT * 2 ** (j * interval / doubling_seconds))
        background = camera_view(camera.photo, light_at(hour), rng, camera.lamp_at)
        comp = composite_flame(background, [seed, camera.index, hour, j], height=height, x=x, base=base, smoke=smoke)
        out.scored.append(scorer.score(jpeg_round_trip(comp.pixels), at, f"{camera.name}/fire/{at:%Y%m%dT%H%M%S}"))
        out.boxes.append(comp.box)
        out.heights.append(height)
        if stop is not None and stop(out):
            break
    return out


def _opened_by(event: dict) -> datetime:
    """The capture time of the frame whose counting opened the alert."""
    return datetime.fromisoformat(event["last_frame_at"].replace("Z", "+00:00"))


def _alert_at(event: dict, interval: float, confirm: ConfirmConfig) -> datetime:
    """When the alert leaves confirmation in the live service: the frame that opened it is counted
    once the next frame arrives (reorder buffer) or the flush timer fires, whichever is first."""
    return _opened_by(event) + timedelta(seconds=min(interval, confirm.flush_after_seconds))


def _inside(point: tuple[float, float], box: tuple[float, float, float, float]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def measure_camera(
    scorer: FrameScorer,
    camera: Camera,
    *,
    hours: Sequence[int],
    ignition_hours: Sequence[int],
    interval: float,
    doubling_seconds: float,
    max_seconds: float,
    confirm: ConfirmConfig,
    baseline_config: BaselineConfig,
    seed: int = 0,
) -> CameraResult:
    """One camera: two clear days (day 1 teaches the baselines) and its ignitions, under both settings."""
    days = [clear_windows(scorer, camera, day, hours, confirm.n, interval, seed) for day in (0, 1)]
    learned = learn_baselines([s for w in days[0] for s in w], scorer.model_version, baseline_config)
    baselines = {SETTINGS[0]: None, SETTINGS[1]: learned}
    measured_days = {SETTINGS[0]: (0, 1), SETTINGS[1]: (1,)}
    false_alerts: dict[str, list[str]] = {s: [] for s in SETTINGS}
    for setting in SETTINGS:
        for day in measured_days[setting]:
            for hour, window in zip(hours, days[day], strict=True):
                obs = [scorer.judge(s, baselines[setting], baseline_config) for s in window]
                false_alerts[setting] += [f"day {day + 1} {hour:02d}h" for _ in opened(obs, camera.name, confirm)]

    def on_flame(fire: Ignition, event: dict) -> bool:
        """Whether the alert's peak box holds the centre of the flame in the frame that opened it."""
        flame = fire.boxes[[f.captured_at for f in fire.scored].index(_opened_by(event))]
        peak = event.get("peak_box")
        box = None if peak is None else (peak["x_min"], peak["y_min"], peak["x_max"], peak["y_max"])
        return box is not None and _inside(((flame[0] + flame[2]) / 2, (flame[1] + flame[3]) / 2), box)

    def alerts(fire: Ignition) -> dict[str, tuple[dict | None, bool]]:
        """Per setting: the first alert on the flame (None: none yet), and whether an alert
        elsewhere (a false alarm in another place) opened before it."""
        out = {}
        for setting in SETTINGS:
            obs = [scorer.judge(s, baselines[setting], baseline_config) for s in fire.scored]
            events = opened(obs, camera.name, confirm)
            hit = next((e for e in events if on_flame(fire, e)), None)
            out[setting] = (hit, bool(events) and events[0] is not hit)
        return out

    ignitions = []
    for hour in ignition_hours:
        fire = ignition(
            scorer, camera, hour, interval, doubling_seconds, max_seconds, seed,
            stop=lambda fire: all(event is not None for event, _ in alerts(fire).values()),
        )  # fmt: skip
        outcome: dict = {"hour": hour, "frames": len(fire.scored)}
        for setting, (event, elsewhere) in alerts(fire).items():
            outcome[setting] = None
            if event is not None:
                at = _alert_at(event, interval, confirm)
                index = [f.captured_at for f in fire.scored].index(_opened_by(event))
                outcome[setting] = {
                    "seconds_after_3pct": round((at - fire.reaches_alert_height_at).total_seconds(), 1),
                    "flame_height_at_alert": round(fire.heights[index], 4),
                }
            outcome[f"{setting}: alert elsewhere first"] = elsewhere
        ignitions.append(outcome)
    measured = {setting: len(d) for setting, d in measured_days.items()}
    return CameraResult(camera.name, camera.lamp_at is not None, false_alerts, measured, ignitions)
