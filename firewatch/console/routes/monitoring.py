"""Monitoring: per-camera frame rate, fire rate, scores and latency over time, and dead letters by stage."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from firewatch.console.monitoring import bars_svg, dead_letters_by_stage, series_by_camera
from firewatch.console.web import BadParameter, Console


def router(console: Console) -> APIRouter:
    routes = APIRouter()
    config = console.config

    @routes.get("/monitoring", response_class=HTMLResponse)
    def monitoring(request: Request, hours: float = 6.0, bucket_minutes: int = 15):
        if not 0 < hours <= config.window_hours:
            raise BadParameter(f"hours must be in (0, {config.window_hours}] (--window-hours), got {hours}")
        if not 1 <= bucket_minutes <= 1440 or hours * 60 / bucket_minutes > 500:
            raise BadParameter("bucket_minutes must be 1-1440 and give at most 500 buckets over the hours shown")
        end = console.clock()
        start = end - dt.timedelta(hours=hours)
        rows = console.store.monitoring_rows(start)
        series = series_by_camera(rows, start, end, dt.timedelta(minutes=bucket_minutes))
        for entry in series:
            points = entry["points"]
            entry["charts"] = [
                bars_svg([p["frames_per_s"] for p in points], "frames/s", "{:.3f}"),
                bars_svg([p["fire_rate"] for p in points], "fire rate", "{:.0%}"),
                bars_svg([p["mean_score"] for p in points], "mean p(fire)", "{:.2f}"),
                bars_svg([p["p95_latency_ms"] for p in points], "p95 publish→row ms", "{:.0f}"),
                bars_svg(entry["histogram"], "score histogram 0→1", "{:.0f}"),
            ]
        dead = dead_letters_by_stage(console.store.dead_letters_since(start))
        return console.page(
            request, "monitoring.html", series=series, dead=dead, hours=hours, bucket_minutes=bucket_minutes
        )

    return routes
