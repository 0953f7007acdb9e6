"""`firewatch notify serve`: the notifier as the endpoint of a Pub/Sub push subscription (Cloud Run).

Pub/Sub POSTs `{"message": {"data": base64, "attributes": {...}, "messageId": ...}, "subscription": ...}`;
a 2xx answer acknowledges the message, anything else makes Pub/Sub deliver it again (and, after the
subscription's max delivery attempts, dead-letter it). The caller is authenticated by Cloud Run
itself: the service does not allow unauthenticated calls, and only the push subscription's
service account (its OIDC token) may invoke it (infra/terraform/notify.tf).
"""

from __future__ import annotations

import base64
import binascii

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from firewatch.notify.service import Notifier


def create_app(notifier: Notifier) -> FastAPI:
    app = FastAPI(title="firewatch notify", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/")
    @app.post("/pubsub")
    async def push(request: Request) -> Response:
        try:
            envelope = await request.json()
            msg = envelope["message"]
            data = base64.b64decode(msg.get("data", ""), validate=True)
            attributes = {str(k): str(v) for k, v in (msg.get("attributes") or {}).items()}
            message_id = str(msg.get("messageId") or msg.get("message_id") or "")
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
            return JSONResponse({"error": f"not a Pub/Sub push envelope: {exc}"}, status_code=400)
        outcome = notifier.handle(data, attributes, message_id)
        if not outcome.ack:
            return JSONResponse({"error": "undeliverable topic unavailable; deliver again"}, status_code=503)
        return JSONResponse(
            {"sent": outcome.sent, "undeliverable": [c for c, _ in outcome.undeliverable], "skipped": outcome.skipped}
        )

    return app
