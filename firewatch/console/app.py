"""The console's web application (FastAPI + server-rendered Jinja2 templates).

`create_app(config, store, feed, scorer)` wires routes to the store (BigQuery/GCS), the live
feed (Pub/Sub) and the upload scorer; all three are injectable, so tests drive the real app
against the local stack. Every page needs an operator identity (`security`); every form post
is CSRF-checked; every path/query parameter is validated with a clear 400.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from firewatch.console import security
from firewatch.console.config import ConsoleConfig, operator_tokens
from firewatch.console.iap import IapVerifier
from firewatch.console.images import ImageRefused, image_content_type, parse_object_uri
from firewatch.console.live import AlertFeed, sse_message
from firewatch.console.mask_page import mask_frame, rectangles_json
from firewatch.console.monitoring import bars_svg, dead_letters_by_stage, series_by_camera
from firewatch.console.scoring import UploadScorer
from firewatch.console.store import ConsoleStore
from firewatch.console.views import (
    alert_frame_overlays,
    as_utc,
    box_of,
    boxes_svg,
    camera_board,
    frame_boxes,
    latest_alert_states,
    probability_svg,
)
from firewatch.core.contract import ContractError, check_camera_id
from firewatch.core.feedback import CATEGORIES, VerdictInput, history, latest_verdicts, subject_for_frame
from firewatch.core.imaging import DecodeLimits, ImageError
from firewatch.core.masks import MASK_ID_RE, MAX_NOTE, MAX_RECTANGLES, latest_rows, parse_rectangles
from firewatch.errors import ModelError

HERE = Path(__file__).resolve().parent
ID_RE = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,300}$")
KEEPALIVE_S = 15.0
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class BadParameter(ValueError):
    """A request parameter is invalid; the message says which and why."""


def _checked_id(name: str, value: str) -> str:
    if not ID_RE.match(value or "") or ".." in value:
        raise BadParameter(f"{name} {value[:80]!r} is not valid (1-300 letters, digits and ._:@/+=-)")
    return value


def _camera_id(value: str) -> str:
    """The pipeline's camera-id rule (`firewatch.core.contract.check_camera_id`), as BadParameter."""
    try:
        return check_camera_id(value)
    except ContractError as exc:
        raise BadParameter(exc.reason) from None


def create_app(
    config: ConsoleConfig,
    store: ConsoleStore,
    feed: AlertFeed | None = None,
    scorer: UploadScorer | None = None,
    now: Any = None,
) -> FastAPI:
    clock = now or (lambda: dt.datetime.now(dt.UTC))
    tokens = operator_tokens()
    iap_verifier = IapVerifier(config.iap_audience) if config.iap_audience else None
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["categories"] = CATEGORIES
    templates.env.filters["ts"] = lambda v: as_utc(v).strftime("%Y-%m-%d %H:%M:%S") if as_utc(v) else "—"

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if feed is not None:
            feed.start()
        try:
            yield
        finally:
            if feed is not None:
                await asyncio.to_thread(feed.stop)

    app = FastAPI(title="Firewatch console", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    def operator(request: Request) -> str:
        return security.operator_for(
            {k.lower(): v for k, v in request.headers.items()},
            request.cookies,
            tokens=tokens,
            trust_iap=config.trust_iap,
            loopback=config.is_loopback,
            iap_verifier=iap_verifier,
        )

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        csrf = request.cookies.get(security.CSRF_COOKIE) or security.new_token()
        context.update(request=request, csrf=csrf, operator=getattr(request.state, "operator", None))
        response = templates.TemplateResponse(request, name, context, status_code=status)
        if request.cookies.get(security.CSRF_COOKIE) != csrf:
            response.set_cookie(
                security.CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=not config.is_loopback
            )
        return response

    @app.middleware("http")
    async def guard(request: Request, call_next):
        path = request.url.path
        if not (path.startswith("/static/") or path in ("/login", "/healthz")):
            try:
                request.state.operator = operator(request)
            except security.NotAuthenticated as exc:
                if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
                    return RedirectResponse("/login", status_code=303)
                return Response(f"not authenticated: {exc}\n", status_code=401, media_type="text/plain")
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    def require_csrf(request: Request, csrf: str | None = Form(None)) -> None:
        security.check_csrf(
            csrf, request.cookies.get(security.CSRF_COOKIE), request.headers.get("origin"), request.headers.get("host")
        )

    checked = [Depends(require_csrf)]

    @app.exception_handler(security.CsrfError)
    async def csrf_refused(request: Request, exc: security.CsrfError):
        return Response(f"refused: {exc}\n", status_code=403, media_type="text/plain")

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e['loc'][1:])) or 'request'}: {e['msg']}" for e in exc.errors())
        return page(request, "error.html", status=400, message=f"invalid request: {problems}")

    @app.exception_handler(BadParameter)
    async def bad_parameter(request: Request, exc: BadParameter):
        return page(request, "error.html", status=400, message=str(exc))

    @app.exception_handler(ValidationError)
    async def bad_form(request: Request, exc: ValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'form'}: {e['msg']}" for e in exc.errors())
        return page(request, "error.html", status=400, message=f"invalid verdict: {problems}")

    def since() -> dt.datetime:
        return clock() - dt.timedelta(hours=config.window_hours)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request):
        return page(request, "login.html", message=None)

    @app.post("/login", dependencies=checked)
    def login(request: Request, token: str = Form(..., max_length=512)):
        if not any(security.hmac.compare_digest(token.encode(), t.encode()) for t in tokens):
            return page(request, "login.html", status=401, message="unknown token")
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            security.TOKEN_COOKIE, token, httponly=True, samesite="strict", secure=not config.is_loopback
        )
        return response

    @app.get("/", response_class=HTMLResponse)
    def alert_list(request: Request):
        alerts = latest_alert_states(store.alert_events_since(since()))
        verdicts = latest_verdicts(store.feedback_since(since()))
        return page(request, "alerts.html", alerts=alerts, verdicts=verdicts, live=feed is not None)

    @app.get("/events")
    async def events(request: Request):
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

    @app.get("/cameras", response_class=HTMLResponse)
    def cameras(request: Request):
        states = latest_alert_states(store.alert_events_since(since()))
        board = camera_board(store.last_frames(since()), states, clock(), config.stale_after_s, store.camera_health())
        return page(request, "cameras.html", board=board, stale_after_s=config.stale_after_s)

    @app.get("/cameras/{camera_id}", response_class=HTMLResponse)
    def camera(request: Request, camera_id: str):
        camera_id = _camera_id(camera_id)
        frames = store.recent_frames(camera_id, since())
        verdicts = latest_verdicts(store.feedback_since(since()))
        marked = {key: v for key, v in verdicts.items() if key.startswith("frame:")}
        return page(
            request,
            "camera.html",
            camera_id=camera_id,
            frames=frames,
            marked=marked,
            subject_for_frame=subject_for_frame,
            form_key=uuid.uuid4().hex,
        )

    @app.get("/cameras/{camera_id}/mask", response_class=HTMLResponse)
    def mask_page(request: Request, camera_id: str):
        camera_id = _camera_id(camera_id)
        versions = store.masks(camera_id)
        current = latest_rows(versions).get(camera_id)
        frame = mask_frame(store.recent_frames(camera_id, since(), limit=20), config.allowed_buckets)
        return page(
            request,
            "mask.html",
            camera_id=camera_id,
            current=current,
            versions=list(reversed(versions))[:20],
            rectangles=rectangles_json(current),
            frame=frame,
            form_key=uuid.uuid4().hex,
            max_rectangles=MAX_RECTANGLES,
        )

    @app.post("/cameras/{camera_id}/mask", dependencies=checked)
    def save_mask(
        request: Request,
        camera_id: str,
        mask_id: str = Form(...),
        rectangles: str = Form("[]", max_length=20000),
        note: str | None = Form(None, max_length=MAX_NOTE),
    ):
        camera_id = _camera_id(camera_id)
        if not MASK_ID_RE.match(mask_id):
            raise BadParameter("mask_id must be 16-64 letters, digits, '-' or '_' (reload the page)")
        try:
            parsed = parse_rectangles(rectangles)
        except ValueError as exc:
            raise BadParameter(f"invalid mask: {exc}") from None
        store.record_mask(camera_id, parsed, mask_id=mask_id, operator=request.state.operator, now=clock(), note=note)
        return RedirectResponse(f"/cameras/{camera_id}/mask", status_code=303)

    @app.get("/monitoring", response_class=HTMLResponse)
    def monitoring(request: Request, hours: float = 6.0, bucket_minutes: int = 15):
        if not 0 < hours <= config.window_hours:
            raise BadParameter(f"hours must be in (0, {config.window_hours}] (--window-hours), got {hours}")
        if not 1 <= bucket_minutes <= 1440 or hours * 60 / bucket_minutes > 500:
            raise BadParameter("bucket_minutes must be 1-1440 and give at most 500 buckets over the hours shown")
        end = clock()
        start = end - dt.timedelta(hours=hours)
        series = series_by_camera(store.monitoring_rows(start), start, end, dt.timedelta(minutes=bucket_minutes))
        for entry in series:
            points = entry["points"]
            entry["charts"] = [
                bars_svg([p["frames_per_s"] for p in points], "frames/s", "{:.3f}"),
                bars_svg([p["fire_rate"] for p in points], "fire rate", "{:.0%}"),
                bars_svg([p["mean_score"] for p in points], "mean p(fire)", "{:.2f}"),
                bars_svg([p["p95_latency_ms"] for p in points], "p95 publish→row ms", "{:.0f}"),
                bars_svg(entry["histogram"], "score histogram 0→1", "{:.0f}"),
            ]
        dead = dead_letters_by_stage(store.dead_letters_since(start))
        return page(request, "monitoring.html", series=series, dead=dead, hours=hours, bucket_minutes=bucket_minutes)

    @app.get("/alerts/{alert_id}", response_class=HTMLResponse)
    def alert(request: Request, alert_id: str):
        alert_id = _checked_id("alert id", alert_id)
        events_ = store.alert_events(alert_id)
        if not events_:
            return page(request, "error.html", status=404, message=f"no alert {alert_id!r} in the alerts table")
        state = latest_alert_states(events_)[0]
        frames = store.frames_between(
            state["camera_id"], as_utc(state["first_frame_at"]), as_utc(state["last_frame_at"])
        )
        peak_key = state.get("peak_frame_key")
        peak = next((f for f in frames if f["frame_key"] == peak_key), None)
        # The peak frame's own evidence when it was explained; else the alert's (another frame's,
        # named on the page by the explanations table; unnamed while that row is not there yet).
        explanation = store.explanation(peak_key) if peak_key else None
        if explanation is None and state.get("explanation_uri"):
            explanation = store.explanation_by_overlay(state["explanation_uri"])
        overlay = (explanation or {}).get("overlay_uri") or state.get("explanation_uri")
        threshold = frames[0]["threshold"] if frames else None
        rows = store.feedback(alert_id)
        peak_box = box_of(state.get("peak_box"))  # where the peak frame fired (None: not known)
        return page(
            request,
            "alert.html",
            alert=state,
            events=events_,
            frames=frames,
            peak=peak,
            peak_box=peak_box,
            peak_svg=boxes_svg(frame_boxes(peak, state.get("peak_box"))) if peak else "",
            frame_svgs=alert_frame_overlays(frames, peak_key, state.get("peak_box")),
            explanation=explanation,
            overlay=overlay,
            svg=probability_svg(frames, threshold),
            verdicts=history(rows),
            current=latest_verdicts(rows).get(alert_id),
            form_key=uuid.uuid4().hex,
        )

    @app.post("/alerts/{alert_id}/verdict", dependencies=checked)
    def alert_verdict(
        request: Request,
        alert_id: str,
        verdict: str = Form(...),
        feedback_id: str = Form(...),
        category: str | None = Form(None),
        note: str | None = Form(None),
    ):
        alert_id = _checked_id("alert id", alert_id)
        events_ = store.alert_events(alert_id)
        if not events_:
            raise BadParameter(f"no alert {alert_id!r}: nothing to judge")
        state = latest_alert_states(events_)[0]
        frames = store.frames_between(
            state["camera_id"], as_utc(state["first_frame_at"]), as_utc(state["last_frame_at"])
        )
        flagged = [f for f in frames if f["label"] == "fire"] or frames
        if flagged:
            keys, uris = [f["frame_key"] for f in flagged], [f.get("source_uri") or "" for f in flagged]
        else:  # the predictions are gone (partition expiry): fall back to the alert's own frame list
            keys = list(state.get("frame_uris") or [])
            uris = [key if key.startswith("gs://") else "" for key in keys]
        if not keys:
            raise BadParameter(
                f"alert {alert_id!r} lists no frames (predictions table nor alert row): nothing to judge"
            )
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
        store.record_verdict(judged, request.state.operator, clock())
        return RedirectResponse(f"/alerts/{alert_id}", status_code=303)

    @app.post("/frames/missed-fire", dependencies=checked)
    def missed_fire(
        request: Request, frame_key: str = Form(...), feedback_id: str = Form(...), note: str | None = Form(None)
    ):
        frame_key = _checked_id("frame key", frame_key)
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
        store.record_verdict(judged, request.state.operator, clock())
        return RedirectResponse(f"/cameras/{frame['camera_id']}", status_code=303)

    @app.get("/image")
    def image(uri: str):
        try:
            ref = parse_object_uri(uri, config.allowed_buckets)
            data = store.read_object(ref, config.max_upload_bytes)
            content_type = image_content_type(data)
        except ImageRefused as exc:
            return Response(f"refused: {exc}\n", status_code=400, media_type="text/plain")
        except (FileNotFoundError, ValueError) as exc:
            return Response(f"not available: {exc}\n", status_code=404, media_type="text/plain")
        return Response(data, media_type=content_type, headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/upload", response_class=HTMLResponse)
    def upload_form(request: Request):
        return page(request, "upload.html", result=None, error=None, enabled=scorer is not None)

    @app.post("/upload", response_class=HTMLResponse, dependencies=checked)
    async def upload(request: Request, image: UploadFile):
        if scorer is None:
            return page(
                request,
                "upload.html",
                status=400,
                result=None,
                enabled=False,
                error="no model configured: start the console with --model MODEL_DIR",
            )
        data = await image.read(config.max_upload_bytes + 1)
        if len(data) > config.max_upload_bytes:
            return page(
                request,
                "upload.html",
                status=413,
                result=None,
                enabled=True,
                error=f"the image is larger than {config.max_upload_bytes} bytes (--max-upload-bytes)",
            )
        try:
            result = await asyncio.to_thread(scorer.score, data, DecodeLimits())
        except ImageError as exc:
            return page(request, "upload.html", status=400, result=None, enabled=True, error=f"not scored: {exc}")
        except (ModelError, OSError) as exc:  # the configured model: missing, unreadable, not an export
            return page(
                request, "upload.html", status=503, result=None, enabled=True,
                error=f"the model {config.model} could not be loaded: {exc}",
            )  # fmt: skip
        return page(request, "upload.html", result=result, error=None, enabled=True, filename=image.filename)

    return app
