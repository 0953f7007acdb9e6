"""Who the operator is, and CSRF protection of the console's forms.

- Identity: a bearer token (`Authorization: Bearer T`, or the `fw_token` cookie set by /login)
  mapped to an operator name; or, with `--trust-iap`, the `X-Goog-Authenticated-User-Email`
  header Identity-Aware Proxy adds; on 127.0.0.1 without tokens, the operator is `local`.
- CSRF: every form carries the value of the `fw_csrf` cookie (SameSite=Strict, double submit)
  and a POST whose Origin (when sent) is not this host is refused.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

CSRF_COOKIE = "fw_csrf"
TOKEN_COOKIE = "fw_token"
IAP_HEADER = "x-goog-authenticated-user-email"
IAP_ASSERTION_HEADER = "x-goog-iap-jwt-assertion"
_IAP_RE = re.compile(r"^(?:accounts\.google\.com:)?([^\s:@]{1,64}@[A-Za-z0-9.-]{1,190})$")


class NotAuthenticated(Exception):
    """The request carries no acceptable operator identity."""


class CsrfError(Exception):
    """A form post without a valid CSRF token or from another origin."""


def new_token() -> str:
    return secrets.token_urlsafe(24)


def operator_for(
    headers: Mapping[str, str],
    cookies: Mapping[str, str],
    *,
    tokens: Mapping[str, str],
    trust_iap: bool,
    loopback: bool,
    iap_verifier: Any = None,
) -> str:
    """The operator's name, or NotAuthenticated with what to do."""
    auth = headers.get("authorization", "")
    given = auth[7:].strip() if auth.lower().startswith("bearer ") else cookies.get(TOKEN_COOKIE, "")
    if given and tokens:
        for token, name in tokens.items():
            if hmac.compare_digest(given.encode(), token.encode()):
                return name
        raise NotAuthenticated("unknown token")
    if trust_iap and iap_verifier is not None and (headers.get(IAP_ASSERTION_HEADER) or headers.get(IAP_HEADER)):
        from firewatch.console.iap import IapError

        try:
            return iap_verifier.operator(headers.get(IAP_ASSERTION_HEADER))
        except IapError as exc:
            raise NotAuthenticated(str(exc)) from None
    if trust_iap and headers.get(IAP_HEADER):
        match = _IAP_RE.match(headers[IAP_HEADER].strip())
        if not match:
            raise NotAuthenticated("malformed Identity-Aware Proxy identity header")
        return match.group(1)
    if loopback and not tokens:
        return "local"
    raise NotAuthenticated("sign in with an operator token (or reach the console through Identity-Aware Proxy)")


def check_csrf(form_token: str | None, cookie_token: str | None, origin: str | None, host: str | None) -> None:
    if not form_token or not cookie_token or not hmac.compare_digest(form_token.encode(), cookie_token.encode()):
        raise CsrfError("the form's security token is missing or stale: reload the page and submit again")
    if origin == "null":  # a sandboxed frame, a data: URL or a file: page: never this console's own form
        raise CsrfError("form posted from an opaque origin (Origin: null); refused")
    if origin:
        origin_host = urlsplit(origin).netloc
        if host and origin_host != host:
            raise CsrfError(f"form posted from another site ({origin}); refused")
