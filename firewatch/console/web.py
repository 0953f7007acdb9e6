"""What every console route shares: the request context (`Console`), page rendering with the CSRF
cookie, the form-post CSRF dependency, and the validation of path parameters (`BadParameter`, a 400
page). The routes themselves live in `firewatch.console.routes`, one module per resource."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from firewatch.console import security
from firewatch.console.config import ConsoleConfig
from firewatch.console.live import AlertFeed
from firewatch.console.scoring import UploadScorer
from firewatch.console.store import ConsoleStore
from firewatch.console.views import as_utc
from firewatch.core.contract import ContractError, check_camera_id
from firewatch.core.feedback import CATEGORIES

HERE = Path(__file__).resolve().parent
ID_RE = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,300}$")


class BadParameter(ValueError):
    """A request parameter is invalid; the message says which and why."""


def checked_id(name: str, value: str) -> str:
    """An alert id or frame key: 1-300 URL-safe characters, no `..`."""
    if not ID_RE.match(value or "") or ".." in value:
        raise BadParameter(f"{name} {value[:80]!r} is not valid (1-300 letters, digits and ._:@/+=-)")
    return value


def camera_id(value: str) -> str:
    """The pipeline's camera-id rule (`firewatch.core.contract.check_camera_id`), as BadParameter."""
    try:
        return check_camera_id(value)
    except ContractError as exc:
        raise BadParameter(exc.reason) from None


def require_csrf(request: Request, csrf: str | None = Form(None)) -> None:
    security.check_csrf(
        csrf, request.cookies.get(security.CSRF_COOKIE), request.headers.get("origin"), request.headers.get("host")
    )


CHECKED = [Depends(require_csrf)]  # the dependencies of every form post


def templates() -> Jinja2Templates:
    found = Jinja2Templates(directory=str(HERE / "templates"))
    found.env.globals["categories"] = CATEGORIES
    found.env.filters["ts"] = lambda v: as_utc(v).strftime("%Y-%m-%d %H:%M:%S") if as_utc(v) else "—"
    return found


@dataclass
class Console:
    """One console's collaborators, shared by its routers (all injectable, for tests)."""

    config: ConsoleConfig
    store: ConsoleStore
    feed: AlertFeed | None
    scorer: UploadScorer | None
    clock: Callable[[], dt.datetime]
    tokens: dict[str, str]
    templates: Jinja2Templates

    def since(self) -> dt.datetime:
        """The start of the window the pages show (`--window-hours`)."""
        return self.clock() - dt.timedelta(hours=self.config.window_hours)

    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        """Render a template, setting the CSRF cookie its forms carry when the browser has none."""
        csrf = request.cookies.get(security.CSRF_COOKIE) or security.new_token()
        context.update(request=request, csrf=csrf, operator=getattr(request.state, "operator", None))
        response = self.templates.TemplateResponse(request, name, context, status_code=status)
        if request.cookies.get(security.CSRF_COOKIE) != csrf:
            response.set_cookie(
                security.CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=not self.config.is_loopback
            )
        return response
