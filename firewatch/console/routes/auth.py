"""Health check and operator sign-in (a bearer token kept in an HttpOnly cookie)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from firewatch.console import security
from firewatch.console.web import CHECKED, Console


def router(console: Console) -> APIRouter:
    routes = APIRouter()

    @routes.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @routes.get("/login", response_class=HTMLResponse)
    def login_form(request: Request):
        return console.page(request, "login.html", message=None)

    @routes.post("/login", dependencies=CHECKED)
    def login(request: Request, token: str = Form(..., max_length=512)):
        if not any(hmac.compare_digest(token.encode(), t.encode()) for t in console.tokens):
            return console.page(request, "login.html", status=401, message="unknown token")
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            security.TOKEN_COOKIE, token, httponly=True, samesite="strict", secure=not console.config.is_loopback
        )
        return response

    return routes
