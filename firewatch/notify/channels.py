"""Sending one notice over one channel (thin I/O: HTTPS with `requests`, e-mail with smtplib).

Each sender raises `ChannelError` with a reason; `permanent` says a retry cannot help (a 4xx
other than 408/429, a refused recipient or login), otherwise the caller retries with backoff.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import time
from typing import Any

from firewatch.notify import message, signing
from firewatch.notify.message import Notice, Thumbnail
from firewatch.notify.settings import EmailChannel, SlackChannel, TelegramChannel, WebhookChannel

RETRYABLE_STATUS = (408, 429)


class ChannelError(Exception):
    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


def _post(url: str, timeout: float, **kwargs: Any):
    import requests

    try:
        response = requests.post(url, timeout=timeout, allow_redirects=False, **kwargs)
    except requests.RequestException as exc:
        raise ChannelError(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code >= 300:
        permanent = 400 <= response.status_code < 500 and response.status_code not in RETRYABLE_STATUS
        raise ChannelError(f"HTTP {response.status_code}: {response.text[:200]}", permanent=permanent)
    return response


def send_webhook(ch: WebhookChannel, note: Notice, thumb: Thumbnail | None, timeout: float) -> None:
    body = message.webhook_body(note, thumb)
    headers = {"Content-Type": "application/json", **signing.signed_headers(ch.secret, int(time.time()), body)}
    _post(ch.url, timeout, data=body, headers=headers)


def send_slack(ch: SlackChannel, note: Notice, thumb: Thumbnail | None, timeout: float) -> None:
    _post(ch.url, timeout, json=message.slack_payload(note, thumb))


def send_telegram(ch: TelegramChannel, note: Notice, thumb: Thumbnail | None, timeout: float) -> None:
    base = f"{ch.api_base.rstrip('/')}/bot{ch.token}"
    try:
        if thumb is not None:
            caption = message.telegram_text(note, thumb, message.TELEGRAM_CAPTION_MAX)
            response = _post(
                f"{base}/sendPhoto",
                timeout,
                data={"chat_id": ch.chat_id, "caption": caption},
                files={"photo": ("peak-frame.jpg", thumb.jpeg, "image/jpeg")},
            )
        else:
            text = message.telegram_text(note, None, message.TELEGRAM_TEXT_MAX)
            payload = {"chat_id": ch.chat_id, "text": text, "disable_web_page_preview": True}
            response = _post(f"{base}/sendMessage", timeout, json=payload)
    except ChannelError as exc:  # the URL holds the token: never let it reach a log or a topic
        raise ChannelError(exc.reason.replace(ch.token, "<token>"), permanent=exc.permanent) from None
    try:
        ok = json.loads(response.text).get("ok") is True
    except (ValueError, AttributeError):
        ok = False
    if not ok:
        raise ChannelError(f"Telegram did not answer ok: {response.text[:200]}", permanent=True)


def send_email(ch: EmailChannel, note: Notice, thumb: Thumbnail | None, timeout: float) -> None:
    msg = message.email_message(note, thumb, ch.sender, ch.to)
    try:
        with smtplib.SMTP(ch.host, ch.port, timeout=timeout) as smtp:
            if ch.starttls:  # the server's certificate and name are verified (smtplib's default does not)
                smtp.starttls(context=ssl.create_default_context(cafile=ch.ca_file))
            if ch.username and ch.password:
                smtp.login(ch.username, ch.password)
            smtp.send_message(msg)
    except (smtplib.SMTPAuthenticationError, smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
        raise ChannelError(f"SMTP refused: {exc}", permanent=True) from exc
    except ssl.SSLCertVerificationError as exc:
        raise ChannelError(f"SMTP server certificate not trusted: {exc}", permanent=True) from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise ChannelError(f"SMTP server does not support it: {exc}", permanent=True) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise ChannelError(f"SMTP {type(exc).__name__}: {exc}") from exc


SENDERS = {"webhook": send_webhook, "slack": send_slack, "telegram": send_telegram, "email": send_email}


def send(channel: Any, note: Notice, thumb: Thumbnail | None, timeout: float) -> None:
    SENDERS[channel.type](channel, note, thumb, timeout)
