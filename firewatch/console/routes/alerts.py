"""Alerts: the list, the live feed (server-sent events), one alert's page, and its verdict form."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse

from firewatch.console.live import sse_message
from firewatch.console.views import (
    alert_frame_overlays,
    as_utc,
    box_of,
    boxes_svg,
    frame_boxes,
    latest_alert_states,
    probability_svg,
)
from firewatch.console.web import CHECKED, BadParameter, Console, checked_id
from firewatch.core.feedback import VerdictInput, history, latest_verdicts

KEEPALIVE_S = 15.0


def router(console: Console) -> APIRouter:
    routes = APIRouter()
    store = console.store

    @routes.get("/", response_class=HTMLResponse)
    def alert_list(request: Request):
        alerts = latest_alert_states(store.alert_events_since(console.since()))
        verdicts = latest_verdicts(store.feedback_since(console.since()))
        return console.page(request, "alerts.html", alerts=alerts, verdicts=verdicts, live=console.feed is not None)

    @routes.get("/events")
    async def events(request: Request):
        feed = console.feed
        if feed is None:
            raise BadParameter("the live feed is off (--no-live)")
        queue = feed.listen()

        async def stream() -> AsyncIterator[str]:
            try:
                yield ": connected\n\n"
                while not await request.is_disconnected():
                    try:
                        event = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                    except TimeoutError:
                        yield ": keepalive\n\n"
                        continue
                    yield sse_message(event)
            finally:
                feed.unlisten(queue)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    @routes.get("/alerts/{alert_id}", response_class=HTMLResponse)
    def alert(request: Request, alert_id: str):
        alert_id = checked_id("alert id", alert_id)
        events_ = store.alert_events(alert_id)
        if not events_:
            return console.page(request, "error.html", status=404, message=f"no alert {alert_id!r} in the alerts table")
        return console.page(request, "alert.html", **alert_page(console, alert_id, events_))

    @routes.post("/alerts/{alert_id}/verdict", dependencies=CHECKED)
    def alert_verdict(
        request: Request,
        alert_id: str,
        verdict: str = Form(...),
        feedback_id: str = Form(...),
        category: str | None = Form(None),
        note: str | None = Form(None),
    ):
        alert_id = checked_id("alert id", alert_id)
        state, keys, uris = judged_frames(console, alert_id)
        if verdict not in ("fire_confirmed", "false_alarm"):
            raise BadParameter(f"verdict {verdict!r} is not one of fire_confirmed, false_alarm")
        judged = VerdictInput(
            feedback_id=feedback_id,
            verdict=verdict,
            category=category or None,
            note=note,
            alert_id=alert_id,
            camera_id=state["camera_id"],
            frame_keys=tuple(keys),
            frame_uris=tuple(uris),
            model_version=state["model_version"],
        )
        store.record_verdict(judged, request.state.operator, console.clock())
        return RedirectResponse(f"/alerts/{alert_id}", status_code=303)

    return routes


def alert_page(console: Console, alert_id: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """The alert page's context: its latest state, its frames, the peak frame and its evidence."""
    store = console.store
    state = latest_alert_states(events)[0]
    frames = store.frames_between(state["camera_id"], as_utc(state["first_frame_at"]), as_utc(state["last_frame_at"]))
    peak_key = state.get("peak_frame_key")
    peak = next((f for f in frames if f["frame_key"] == peak_key), None)
    # The peak frame's own evidence when it was explained; else the alert's (another frame's,
    # named on the page by the explanations table; unnamed while that row is not there yet).
    explanation = store.explanation(peak_key) if peak_key else None
    if explanation is None and state.get("explanation_uri"):
        explanation = store.explanation_by_overlay(state["explanation_uri"])
    threshold = frames[0]["threshold"] if frames else None
    rows = store.feedback(alert_id)
    return {
        "alert": state,
        "events": events,
        "frames": frames,
        "peak": peak,
        "peak_box": box_of(state.get("peak_box")),  # where the peak frame fired (None: not known)
        "peak_svg": boxes_svg(frame_boxes(peak, state.get("peak_box"))) if peak else "",
        "frame_svgs": alert_frame_overlays(frames, peak_key, state.get("peak_box")),
        "explanation": explanation,
        "overlay": (explanation or {}).get("overlay_uri") or state.get("explanation_uri"),
        "svg": probability_svg(frames, threshold),
        "verdicts": history(rows),
        "current": latest_verdicts(rows).get(alert_id),
        "form_key": uuid.uuid4().hex,
    }


def judged_frames(console: Console, alert_id: str) -> tuple[dict[str, Any], list[str], list[str]]:
    """(alert state, frame keys, frame URIs) a verdict on the alert covers: its fire frames (all its
    frames when none fired); the alert row's own frame list once the predictions have expired."""
    events = console.store.alert_events(alert_id)
    if not events:
        raise BadParameter(f"no alert {alert_id!r}: nothing to judge")
    state = latest_alert_states(events)[0]
    frames = console.store.frames_between(
        state["camera_id"], as_utc(state["first_frame_at"]), as_utc(state["last_frame_at"])
    )
    flagged = [f for f in frames if f["label"] == "fire"] or frames
    if flagged:
        keys, uris = [f["frame_key"] for f in flagged], [f.get("source_uri") or "" for f in flagged]
    else:  # the predictions are gone (partition expiry): fall back to the alert's own frame list
        keys = list(state.get("frame_uris") or [])
        uris = [key if key.startswith("gs://") else "" for key in keys]
    if not keys:
        raise BadParameter(f"alert {alert_id!r} lists no frames (predictions table nor alert row): nothing to judge")
    return state, keys, uris
