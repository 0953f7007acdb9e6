"""The console's web application (FastAPI + server-rendered Jinja2 templates).

`create_app(config, store, feed, scorer)` wires the routers (`firewatch.console.routes`, one per
resource) to the store (BigQuery/GCS), the live feed (Pub/Sub) and the upload scorer; all three are
injectable, so tests drive the real app against the local stack. Every page needs an operator
identity (`security`, checked by the middleware here); every form post is CSRF-checked
(`firewatch.console.web.CHECKED`); every path/query parameter is validated with a clear 400.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError

from firewatch.console import security
from firewatch.console.config import ConsoleConfig, operator_tokens
from firewatch.console.iap import IapVerifier
from firewatch.console.live import AlertFeed
from firewatch.console.routes import alerts, auth, cameras, images, monitoring
from firewatch.console.scoring import UploadScorer
from firewatch.console.store import ConsoleStore
from firewatch.console.web import HERE, BadParameter, Console, templates

ROUTERS = (auth, alerts, cameras, monitoring, images)
OPEN_PATHS = ("/login", "/healthz")  # and /static/: reachable without an operator identity
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def create_app(
    config: ConsoleConfig,
    store: ConsoleStore,
    feed: AlertFeed | None = None,
    scorer: UploadScorer | None = None,
    now: Callable[[], dt.datetime] | None = None,
) -> FastAPI:
    console = Console(
        config=config,
        store=store,
        feed=feed,
        scorer=scorer,
        clock=now or (lambda: dt.datetime.now(dt.UTC)),
        tokens=operator_tokens(),
        templates=templates(),
    )

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
    install_guard(app, console)
    install_error_pages(app, console)
    for module in ROUTERS:
        app.include_router(module.router(console))
    return app


def install_guard(app: FastAPI, console: Console) -> None:
    """Every request but the open paths needs an operator identity; every response gets the security headers."""
    config = console.config
    iap_verifier = IapVerifier(config.iap_audience) if config.iap_audience else None

    @app.middleware("http")
    async def guard(request: Request, call_next):
        path = request.url.path
        if not (path.startswith("/static/") or path in OPEN_PATHS):
            try:
                request.state.operator = security.operator_for(
                    {k.lower(): v for k, v in request.headers.items()},
                    request.cookies,
                    tokens=console.tokens,
                    trust_iap=config.trust_iap,
                    loopback=config.is_loopback,
                    iap_verifier=iap_verifier,
                )
            except security.NotAuthenticated as exc:
                if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
                    return RedirectResponse("/login", status_code=303)
                return Response(f"not authenticated: {exc}\n", status_code=401, media_type="text/plain")
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response


def install_error_pages(app: FastAPI, console: Console) -> None:
    """A refused form is a 403 with the reason; a bad parameter or form is a 400 page naming it."""

    def problems(errors: list[Any], skip: int, whole: str) -> str:
        return "; ".join(f"{'.'.join(map(str, e['loc'][skip:])) or whole}: {e['msg']}" for e in errors)

    @app.exception_handler(security.CsrfError)
    async def csrf_refused(request: Request, exc: security.CsrfError):
        return Response(f"refused: {exc}\n", status_code=403, media_type="text/plain")

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        message = f"invalid request: {problems(list(exc.errors()), 1, 'request')}"
        return console.page(request, "error.html", status=400, message=message)

    @app.exception_handler(BadParameter)
    async def bad_parameter(request: Request, exc: BadParameter):
        return console.page(request, "error.html", status=400, message=str(exc))

    @app.exception_handler(ValidationError)
    async def bad_form(request: Request, exc: ValidationError):
        message = f"invalid verdict: {problems(list(exc.errors()), 0, 'form')}"
        return console.page(request, "error.html", status=400, message=message)
