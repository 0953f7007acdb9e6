"""HMAC-SHA256 signatures of webhook bodies, with a timestamp against replay.

The sender puts `X-Firewatch-Timestamp: <unix seconds>` and
`X-Firewatch-Signature: sha256=<hex>` on the request, the hex digest being
HMAC-SHA256(secret, f"{timestamp}.".encode() + raw_body). A receiver recomputes it over the raw
body it got and refuses a timestamp older (or newer) than its tolerance.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Firewatch-Signature"
TIMESTAMP_HEADER = "X-Firewatch-Timestamp"
DEFAULT_TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp` (unix seconds)."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(
    secret: str,
    body: bytes,
    timestamp: str | None,
    header: str | None,
    *,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> bool:
    """True when `header` signs `body` at `timestamp` with `secret` and the timestamp is within
    `tolerance_s` of `now` (what a receiver checks; constant-time comparison)."""
    if not timestamp or not header:
        return False
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent_at) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, sent_at, body), header)
