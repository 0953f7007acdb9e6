"""Real peers for the notifier's tests: HTTP receivers shaped like a signed webhook, a Slack
incoming webhook and the Telegram Bot API, each a `ThreadingHTTPServer` in a thread, and an SMTP
server (aiosmtpd). Each records what it received and when (time.monotonic())."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from firewatch.notify import signing


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    wall: float
    verified: bool | None = None


class Receiver:
    """`kind`: webhook (checks the signature with `secret`: 401 when it does not verify), slack
    (answers `ok`), telegram (answers {"ok": true} on /bot<token>/sendMessage|sendPhoto only)."""

    def __init__(self, kind: str, secret: str = "", token: str = "") -> None:
        self.kind, self.secret, self.token = kind, secret, token
        self.received: list[Received] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                item = Received(self.path, headers, body, time.monotonic(), time.time())
                status, answer = receiver.answer(item)
                receiver.received.append(item)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, item: Received) -> tuple[int, bytes]:
        if self.kind == "webhook":
            item.verified = signing.verify(
                self.secret,
                item.body,
                item.headers.get(signing.TIMESTAMP_HEADER.lower()),
                item.headers.get(signing.SIGNATURE_HEADER.lower()),
                now=time.time(),
            )
            return (204, b"") if item.verified else (401, b'{"error": "bad signature"}')
        if self.kind == "telegram":
            if item.path not in (f"/bot{self.token}/sendMessage", f"/bot{self.token}/sendPhoto"):
                return 404, b'{"ok": false, "description": "Not Found"}'
            return 200, json.dumps({"ok": True, "result": {"message_id": len(self.received) + 1}}).encode()
        return 200, b"ok"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    """aiosmtpd on a free port. With `tls` (an ssl server context) it requires STARTTLS; with
    `login` (user, password) it requires that login (over TLS)."""

    def __init__(self, tls=None, login: tuple[str, str] | None = None) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.messages: list[tuple[float, object, float]] = []  # (monotonic, message, wall clock)
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
                parsed = message_from_bytes(envelope.content, policy=policy.default)
                outer.messages.append((time.monotonic(), parsed, time.time()))
                return "250 Message accepted for delivery"

        def authenticator(server, session, envelope, mechanism, data):
            ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == login
            return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

        options = {}
        if tls is not None:
            options.update(tls_context=tls, require_starttls=True)
        if login is not None:
            options.update(auth_required=True, authenticator=authenticator)
        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()
