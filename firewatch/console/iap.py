"""Verifying Identity-Aware Proxy's signed header (`X-Goog-IAP-JWT-Assertion`) with google-auth.

With `--iap-audience`, the console trusts an operator only when IAP's ES256 JWT verifies against
Google's published IAP keys (fetched through a google-auth transport, cached for 10 minutes), has
that audience and IAP's issuer; the e-mail comes from the verified claims. Without it, `--trust-iap`
takes the plain `X-Goog-Authenticated-User-Email` header, which is only safe when IAP is the only
way in (ingress restricted).
"""

from __future__ import annotations

import threading
import time
from typing import Any

IAP_ASSERTION_HEADER = "x-goog-iap-jwt-assertion"
IAP_CERTS_URL = "https://www.gstatic.com/iap/verify/public_key"
IAP_ISSUER = "https://cloud.google.com/iap"
CERTS_TTL_S = 600.0


class IapError(Exception):
    """The IAP assertion is missing or does not verify."""


class _CachingRequest:
    """A google-auth transport that caches GET responses (the key set) for a while."""

    def __init__(self, inner: Any, ttl_s: float = CERTS_TTL_S) -> None:
        self._inner, self._ttl = inner, ttl_s
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def __call__(self, url: str, method: str = "GET", **kwargs: Any) -> Any:
        with self._lock:
            hit = self._cache.get(url)
            if method == "GET" and hit and time.monotonic() - hit[0] < self._ttl:
                return hit[1]
        response = self._inner(url, method=method, **kwargs)
        if method == "GET" and response.status == 200:
            with self._lock:
                self._cache[url] = (time.monotonic(), response)
        return response


class IapVerifier:
    def __init__(self, audience: str, transport: Any | None = None) -> None:
        if transport is None:
            from google.auth.transport.requests import Request

            transport = Request()
        self.audience = audience
        self._request = _CachingRequest(transport)

    def operator(self, assertion: str | None) -> str:
        from google.auth import exceptions
        from google.oauth2 import id_token

        if not assertion:
            raise IapError("no X-Goog-IAP-JWT-Assertion header: reach the console through Identity-Aware Proxy")
        try:
            claims = id_token.verify_token(assertion, self._request, audience=self.audience, certs_url=IAP_CERTS_URL)
        except (ValueError, exceptions.GoogleAuthError) as exc:
            raise IapError(f"the IAP assertion does not verify: {exc}") from None
        if claims.get("iss") != IAP_ISSUER or not claims.get("email"):
            raise IapError("the IAP assertion has the wrong issuer or no e-mail")
        return str(claims["email"])
