"""Cameras: the board, one camera's recent frames (with the missed-fire form), and its exclusion mask."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from firewatch.console.mask_page import mask_frame, rectangles_json
from firewatch.console.views import camera_board, latest_alert_states
from firewatch.console.web import CHECKED, BadParameter, Console, camera_id, checked_id
from firewatch.core.feedback import VerdictInput, latest_verdicts, subject_for_frame
from firewatch.core.masks import MASK_ID_RE, MAX_NOTE, MAX_RECTANGLES, latest_rows, parse_rectangles


def router(console: Console) -> APIRouter:
    routes = APIRouter()
    store, config = console.store, console.config

    @routes.get("/cameras", response_class=HTMLResponse)
    def cameras(request: Request):
        states = latest_alert_states(store.alert_events_since(console.since()))
        frames = store.last_frames(console.since())
        board = camera_board(frames, states, console.clock(), config.stale_after_s, store.camera_health())
        return console.page(request, "cameras.html", board=board, stale_after_s=config.stale_after_s)

    @routes.get("/cameras/{camera}", response_class=HTMLResponse)
    def camera(request: Request, camera: str):
        camera = camera_id(camera)
        verdicts = latest_verdicts(store.feedback_since(console.since()))
        return console.page(
            request,
            "camera.html",
            camera_id=camera,
            frames=store.recent_frames(camera, console.since()),
            marked={key: v for key, v in verdicts.items() if key.startswith("frame:")},
            subject_for_frame=subject_for_frame,
            form_key=uuid.uuid4().hex,
        )

    _add_mask_routes(routes, console)

    @routes.post("/frames/missed-fire", dependencies=CHECKED)
    def missed_fire(
        request: Request, frame_key: str = Form(...), feedback_id: str = Form(...), note: str | None = Form(None)
    ):
        frame_key = checked_id("frame key", frame_key)
        frame = store.frame(frame_key)
        if frame is None:
            raise BadParameter(f"no frame {frame_key!r} in the predictions table")
        judged = VerdictInput(
            feedback_id=feedback_id,
            verdict="missed_fire",
            note=note,
            camera_id=frame["camera_id"],
            frame_keys=(frame_key,),
            frame_uris=(frame.get("source_uri") or "",),
            model_version=frame["model_version"],
        )
        store.record_verdict(judged, request.state.operator, console.clock())
        return RedirectResponse(f"/cameras/{frame['camera_id']}", status_code=303)

    return routes


def _add_mask_routes(routes: APIRouter, console: Console) -> None:
    """A camera's exclusion mask: the editor page and its save."""
    store, config = console.store, console.config

    @routes.get("/cameras/{camera}/mask", response_class=HTMLResponse)
    def mask_page(request: Request, camera: str):
        camera = camera_id(camera)
        versions = store.masks(camera)
        current = latest_rows(versions).get(camera)
        return console.page(
            request,
            "mask.html",
            camera_id=camera,
            current=current,
            versions=list(reversed(versions))[:20],
            rectangles=rectangles_json(current),
            frame=mask_frame(store.recent_frames(camera, console.since(), limit=20), config.allowed_buckets),
            form_key=uuid.uuid4().hex,
            max_rectangles=MAX_RECTANGLES,
        )

    @routes.post("/cameras/{camera}/mask", dependencies=CHECKED)
    def save_mask(
        request: Request,
        camera: str,
        mask_id: str = Form(...),
        rectangles: str = Form("[]", max_length=20000),
        note: str | None = Form(None, max_length=MAX_NOTE),
    ):
        camera = camera_id(camera)
        if not MASK_ID_RE.match(mask_id):
            raise BadParameter("mask_id must be 16-64 letters, digits, '-' or '_' (reload the page)")
        try:
            parsed = parse_rectangles(rectangles)
        except ValueError as exc:
            raise BadParameter(f"invalid mask: {exc}") from None
        operator, now = request.state.operator, console.clock()
        store.record_mask(camera, parsed, mask_id=mask_id, operator=operator, now=now, note=note)
        return RedirectResponse(f"/cameras/{camera}/mask", status_code=303)
