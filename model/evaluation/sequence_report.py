"""The fire-sequence measurement's report (`model.evaluation.sequences` measures): false alerts per
camera and day, seconds to alert after the flame reached 3% of the frame, and the markdown table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from model.evaluation.camera_light import period_of

SETTINGS = ("model threshold", "with baselines")


@dataclass
class CameraResult:
    camera: str
    lamp: bool
    false_alerts: dict[str, list[str]]  # setting -> "day/hour" of each alert opened on a clear window
    days: dict[str, int]  # setting -> simulated days measured
    ignitions: list[dict]


def summary(results: Sequence[CameraResult], target_seconds: float = 60.0) -> dict:
    """Per setting: false alerts per camera and day (overall, with and without a lamp) and the
    ignitions' seconds to alert after the flame reached 3% (median, p90, max, share within target)."""
    out: dict = {}
    for setting in SETTINGS:
        camera_days = sum(r.days[setting] for r in results)
        alerts = sum(len(r.false_alerts[setting]) for r in results)
        lamp_days = sum(r.days[setting] for r in results if r.lamp)
        lamp_alerts = sum(len(r.false_alerts[setting]) for r in results if r.lamp)
        outcomes = [i[setting] for r in results for i in r.ignitions]
        seconds = [o["seconds_after_3pct"] for o in outcomes if o is not None]
        out[setting] = {
            "camera_days": camera_days,
            "false_alerts": alerts,
            "false_alerts_per_camera_day": alerts / camera_days if camera_days else None,
            "false_alerts_per_camera_day_lamp_cameras": lamp_alerts / lamp_days if lamp_days else None,
            "false_alerts_by_period": by_period([a for r in results for a in r.false_alerts[setting]]),
            "ignitions": len(outcomes),
            "alerted": len(seconds),
            "within_target": sum(s <= target_seconds for s in seconds),
            "seconds_after_3pct_median_p90_max": (
                [float(np.median(seconds)), float(np.percentile(seconds, 90)), float(max(seconds))] if seconds else None
            ),
            "alert_elsewhere_first": sum(i[f"{setting}: alert elsewhere first"] for r in results for i in r.ignitions),
            "by_hour": {
                str(h): [_seconds(i[setting]) for r in results for i in r.ignitions if i["hour"] == h]
                for h in sorted({i["hour"] for r in results for i in r.ignitions})
            },
        }
    return out


def by_period(alerts: Sequence[str]) -> dict[str, int]:
    """False alerts ("day N HHh") counted by the period of their hour."""
    out = {"day": 0, "night": 0}
    for alert in alerts:
        out[period_of(int(alert.rsplit(" ", 1)[1].rstrip("h")))] += 1
    return out


def _seconds(outcome: dict | None) -> float | None:
    return None if outcome is None else outcome["seconds_after_3pct"]


def _spread(values: list[float] | None) -> str:
    return "-" if not values else " / ".join(f"{v:.0f}" for v in values)


def table(report: dict) -> str:
    """A markdown table of `summary`: one column per setting."""
    s = report["summary"]
    target = f"alert within {report['target_seconds']:g} s of 3% height"
    rows = [
        ("false alerts per camera-day (clear)",
         lambda m: f"{m['false_alerts_per_camera_day']:.3f} ({m['false_alerts']}/{m['camera_days']})"),
        ("  of which cameras with a lamp", lambda m: f"{m['false_alerts_per_camera_day_lamp_cameras']:.3f}"),
        ("  false alerts by day / night", lambda m: "{day} / {night}".format(**m["false_alerts_by_period"])),
        ("ignitions alerted", lambda m: f"{m['alerted']}/{m['ignitions']}"),
        (target, lambda m: f"{m['within_target']}/{m['ignitions']}"),
        ("s after 3%: median / p90 / max", lambda m: _spread(m["seconds_after_3pct_median_p90_max"])),
        ("a false alert elsewhere came first", lambda m: f"{m['alert_elsewhere_first']}/{m['ignitions']}"),
    ]  # fmt: skip
    lines = ["| | " + " | ".join(SETTINGS) + " |", "|---|" + "---|" * len(SETTINGS)]
    lines += [f"| {label} | " + " | ".join(fn(s[k]) for k in SETTINGS) + " |" for label, fn in rows]
    return "\n".join(lines)
