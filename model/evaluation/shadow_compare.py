"""The shadow version against the main path's, on the same frames: pure comparison maths.

Input: one row per frame both scored (`firewatch.shadow_predictions` joined to `predictions` on
frame_key; `model.evaluation.compare` runs the query). Per (shadow version, current version) pair:

* frames, cameras, and camera-days: the frame-time span each camera's compared frames cover, summed;
* agreement: the share of frames with the same label (each version's label as its row has it: the
  main row's threshold may be a night threshold or raised by baselines, the shadow's is its own);
* fire rate of each version;
* alerts each would have opened: the job's own confirmation (`firewatch.core.confirm.step`, then
  `flush`; no copy of its rules) replayed per camera in frame-time order over each version's scores,
  and per camera-day;
* time to alert on the episodes both saw: a current alert and a shadow alert of the same camera whose
  episodes (first fire frame to last frame) overlap are the same episode; for each, the seconds from
  the frame time the current version's alert would have opened to the shadow version's (negative:
  the shadow alerts earlier), as mean / median / max.

The compared frames are the shadow share only (`--shadow-share`), the same for both versions: with a
share below 1, confirmation's k of n counts sampled frames, so the alert figures compare the two
versions with each other, not with the alerts the job raised.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from firewatch.core.confirm import CLOSE, OPEN, STALE, CameraState, ConfirmConfig, FrameObservation, flush, step
from firewatch.core.contract import parse_rfc3339

SIDES = ("current", "shadow")


@dataclass(frozen=True)
class PairedFrame:
    """One frame scored by both versions: (probability, threshold, label) for each side."""

    frame_key: str
    camera_id: str
    captured_at: datetime
    current_version: str
    shadow_version: str
    current: tuple[float, float, str]
    shadow: tuple[float, float, str]


@dataclass(frozen=True)
class Alert:
    """An alert a version would have opened: its episode's first fire frame, the frame time it opens at,
    and its last frame (frame times)."""

    camera_id: str
    alert_id: str
    first_frame_at: datetime
    opened_at: datetime
    last_frame_at: datetime


def _time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else parse_rfc3339(str(value))


def paired_frames(rows: Iterable[Mapping[str, Any]]) -> list[PairedFrame]:
    """The query's rows as frames, one per (frame, shadow version) (a frame written twice counts once)."""
    frames: dict[tuple[str, str], PairedFrame] = {}
    for r in rows:
        key = (str(r["frame_key"]), str(r["shadow_version"]))
        if key in frames or r.get("captured_at") is None:
            continue
        frames[key] = PairedFrame(
            frame_key=key[0],
            camera_id=str(r["camera_id"]),
            captured_at=_time(r["captured_at"]),
            current_version=str(r["current_version"]),
            shadow_version=key[1],
            current=(float(r["current_probability"]), float(r["current_threshold"]), str(r["current_label"])),
            shadow=(float(r["shadow_probability"]), float(r["shadow_threshold"]), str(r["shadow_label"])),
        )
    return sorted(frames.values(), key=lambda f: (f.camera_id, f.captured_at, f.frame_key))


def replay_alerts(frames: Sequence[PairedFrame], side: str, config: ConfirmConfig) -> list[Alert]:
    """The alerts `side` ("current" or "shadow") would have opened: confirmation per camera, frame-time order."""
    by_camera: dict[str, list[PairedFrame]] = defaultdict(list)
    for f in frames:
        by_camera[f.camera_id].append(f)
    alerts: list[Alert] = []
    for camera, camera_frames in sorted(by_camera.items()):
        state, events = CameraState(), []
        camera_frames = sorted(camera_frames, key=lambda f: (f.captured_at, f.frame_key))
        for f in camera_frames:
            probability, threshold, _ = getattr(f, side)
            version = f.current_version if side == "current" else f.shadow_version
            obs = FrameObservation(f.captured_at, f.frame_key, probability, threshold, version)
            events += step(state, camera, obs, config, now=f.captured_at)
        end = camera_frames[-1].captured_at
        events += flush(state, camera, config, now=end)
        alerts += _alerts_of(camera, events, end)
    return alerts


def _alerts_of(camera: str, events: Sequence[Mapping[str, Any]], end: datetime) -> list[Alert]:
    """The alerts opened among a camera's events; one still open at the camera's last frame (`end`) lasts to it."""
    opened = {e["alert_id"]: e for e in events if e["event"] == OPEN}
    ended = {e["alert_id"] for e in events if e["event"] in (CLOSE, STALE)}
    last: dict[str, datetime] = {alert_id: end for alert_id in opened if alert_id not in ended}
    for e in events:
        last[e["alert_id"]] = max(last.get(e["alert_id"], _time(e["last_frame_at"])), _time(e["last_frame_at"]))
    return [
        Alert(camera, alert_id, _time(e["first_frame_at"]), _time(e["last_frame_at"]), last[alert_id])
        for alert_id, e in opened.items()
    ]


def match_episodes(current: Sequence[Alert], shadow: Sequence[Alert]) -> list[tuple[Alert, Alert]]:
    """(current alert, shadow alert) pairs of the same camera whose episodes overlap in frame time; each
    alert in one pair at most, the earliest-opened first."""
    pairs: list[tuple[Alert, Alert]] = []
    taken: set[str] = set()
    for a in sorted(current, key=lambda a: (a.camera_id, a.opened_at)):
        for b in sorted(shadow, key=lambda b: b.opened_at):
            overlaps = a.first_frame_at <= b.last_frame_at and b.first_frame_at <= a.last_frame_at
            if b.camera_id == a.camera_id and b.alert_id not in taken and overlaps:
                pairs.append((a, b))
                taken.add(b.alert_id)
                break
    return pairs


def camera_days(frames: Sequence[PairedFrame]) -> float:
    """The frame-time span covered by each camera's frames, summed, in days."""
    spans: dict[str, tuple[datetime, datetime]] = {}
    for f in frames:
        first, last = spans.get(f.camera_id, (f.captured_at, f.captured_at))
        spans[f.camera_id] = (min(first, f.captured_at), max(last, f.captured_at))
    return sum((last - first).total_seconds() for first, last in spans.values()) / 86400.0


def _summary(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "median": None, "max": None}
    return {"mean": statistics.fmean(values), "median": statistics.median(values), "max": max(values)}


def compare_pair(frames: Sequence[PairedFrame], config: ConfirmConfig) -> dict[str, Any]:
    """The comparison of one (shadow version, current version) pair over its frames (see the module docstring)."""
    n = len(frames)
    days = camera_days(frames)
    alerts = {side: replay_alerts(frames, side, config) for side in SIDES}
    episodes = match_episodes(alerts["current"], alerts["shadow"])
    deltas = [(b.opened_at - a.opened_at).total_seconds() for a, b in episodes]
    result: dict[str, Any] = {
        "shadow_version": frames[0].shadow_version if frames else None,
        "current_version": frames[0].current_version if frames else None,
        "frames": n,
        "cameras": len({f.camera_id for f in frames}),
        "camera_days": days,
        "agreement": sum(f.current[2] == f.shadow[2] for f in frames) / n if n else None,
    }
    for side in SIDES:
        fire = sum(getattr(f, side)[2] == "fire" for f in frames)
        result[f"{side}_fire_rate"] = fire / n if n else None
        result[f"{side}_alerts"] = len(alerts[side])
        result[f"{side}_alerts_per_camera_day"] = len(alerts[side]) / days if days > 0 else None
    result["episodes_both"] = len(episodes)
    result["time_to_alert_delta_seconds"] = _summary(deltas)
    return result


def compare(rows: Iterable[Mapping[str, Any]], config: ConfirmConfig | None = None) -> list[dict[str, Any]]:
    """One comparison per (shadow version, current version) pair found in the rows, sorted by versions."""
    groups: dict[tuple[str, str], list[PairedFrame]] = defaultdict(list)
    for f in paired_frames(rows):
        groups[(f.shadow_version, f.current_version)].append(f)
    return [compare_pair(groups[key], config or ConfirmConfig()) for key in sorted(groups)]


def _number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def format_comparison(results: Sequence[Mapping[str, Any]]) -> str:
    """The comparisons as text: one block per version pair."""
    if not results:
        return "no frames scored by both a shadow version and the main path in the window"
    blocks = []
    for r in results:
        cur, sha = f"current {r['current_version']}", f"shadow {r['shadow_version']}"
        width = max(len(cur), len(sha), 10)
        delta = r["time_to_alert_delta_seconds"]
        lines = [
            f"shadow {r['shadow_version']} vs current {r['current_version']}: {r['frames']} frames on "
            f"{r['cameras']} camera(s), {r['camera_days']:.4g} camera-days; agreement {_number(r['agreement'])}",
            f"{'':28}{cur:>{width}}  {sha:>{width}}",
        ]
        for label, key, digits in (
            ("fire rate", "fire_rate", 4),
            ("alerts opened", "alerts", 0),
            ("alerts per camera per day", "alerts_per_camera_day", 2),
        ):
            current, shadow = _number(r[f"current_{key}"], digits), _number(r[f"shadow_{key}"], digits)
            lines.append(f"{label:28}{current:>{width}}  {shadow:>{width}}")
        lines.append(
            f"episodes both alerted on: {r['episodes_both']}; time to alert, shadow minus current (s): "
            f"mean {_number(delta['mean'], 1)}, median {_number(delta['median'], 1)}, max {_number(delta['max'], 1)}"
        )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
