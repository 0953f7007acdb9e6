"""Monitoring page figures (pure): per camera and model version over time buckets, frames/s, fire
rate, mean score, p95 publish→row latency and a score histogram; dead letters per stage; small SVG
bar charts. Rows come from the predictions and dead_letters tables (`store`)."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from firewatch.console.views import as_utc

HISTOGRAM_BINS = 10


def _p95(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def series_by_camera(
    rows: Iterable[Mapping[str, Any]], start: dt.datetime, end: dt.datetime, bucket: dt.timedelta
) -> list[dict[str, Any]]:
    """One entry per (camera, model version): per-bucket frames/s, fire rate, mean score, p95 latency,
    and totals with a score histogram. Buckets cover [start, end) in order."""
    count = max(1, math.ceil((end - start) / bucket))
    groups: dict[tuple[str, str], list[list[Mapping[str, Any]]]] = defaultdict(lambda: [[] for _ in range(count)])
    for row in rows:
        at = as_utc(row["processed_at"])
        if at is None or not start <= at < end:
            continue
        index = min(count - 1, int((at - start) / bucket))
        groups[(row["camera_id"], row["model_version"])][index].append(row)
    seconds = bucket.total_seconds()
    out = []
    for (camera, version), buckets in sorted(groups.items()):
        points = []
        for i, items in enumerate(buckets):
            probs = [float(r["fire_probability"]) for r in items]
            latencies = [float(r["latency_ms"]) for r in items if r.get("latency_ms") is not None]
            points.append({
                "start": start + i * bucket,
                "frames_per_s": len(items) / seconds,
                "fire_rate": (sum(r["label"] == "fire" for r in items) / len(items)) if items else None,
                "mean_score": (sum(probs) / len(probs)) if probs else None,
                "p95_latency_ms": _p95(latencies),
            })  # fmt: skip
        everything = [r for items in buckets for r in items]
        histogram = Counter(
            min(HISTOGRAM_BINS - 1, int(float(r["fire_probability"]) * HISTOGRAM_BINS)) for r in everything
        )
        out.append({
            "camera_id": camera, "model_version": version, "frames": len(everything),
            "fire_rate": sum(r["label"] == "fire" for r in everything) / len(everything),
            "points": points, "histogram": [histogram.get(i, 0) for i in range(HISTOGRAM_BINS)],
        })  # fmt: skip
    return out


def dead_letters_by_stage(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    return dict(sorted(Counter(str(r["stage"]) for r in rows).items()))


def bars_svg(
    values: Sequence[float | None], label: str, fmt: str = "{:.2f}", width: int = 240, height: int = 56
) -> str:
    """A small bar chart (None = no data, drawn as a gap), with the label and the largest value."""
    numbers = [v for v in values if v is not None]
    top = max(numbers) if numbers else 0.0
    n = max(1, len(values))
    bar_w = width / n
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 14}" class="spark" '
             f'role="img" aria-label="{escape(label)}">',
             f'<text x="0" y="10" font-size="10">{escape(label)} (max {escape(fmt.format(top))})</text>']  # fmt: skip
    for i, value in enumerate(values):
        if value is None or top <= 0:
            continue
        h = max(1.0, height * value / top)
        parts.append(
            f'<rect x="{i * bar_w:.1f}" y="{14 + height - h:.1f}" width="{max(1.0, bar_w - 1):.1f}" height="{h:.1f}" '
            f'fill="#c0392b"><title>{escape(fmt.format(value))}</title></rect>'
        )
    parts.append(f'<line x1="0" x2="{width}" y1="{14 + height}" y2="{14 + height}" stroke="#999"/></svg>')
    return "".join(parts)
