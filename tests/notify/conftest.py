"""The notifier's real peers for a test: a signed webhook, Slack- and Telegram-shaped receivers, SMTP."""

from __future__ import annotations

import pytest

from tests.notify.harness import SECRET, TOKEN
from tests.notify.peers import Receiver, SmtpServer


@pytest.fixture
def peers():
    hook, slack, telegram = Receiver("webhook", secret=SECRET), Receiver("slack"), Receiver("telegram", token=TOKEN)
    smtp = SmtpServer()
    yield hook, slack, telegram, smtp
    for peer in (hook, slack, telegram, smtp):
        peer.close()
