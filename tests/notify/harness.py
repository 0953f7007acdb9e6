"""Running `firewatch notify` as a process in tests: its Pub/Sub resources (declared ones), a config
file for the peers of `tests.notify.peers`, the process itself, and waiting/pulling helpers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SECRET, TOKEN = "webhook-key-1", "123456:TEST-token"
CONSOLE = "https://console.example.org"


@dataclass(frozen=True)
class NotifyPaths:
    subscription: str
    undeliverable: str
    undeliverable_subscription: str


def notify_paths(names) -> NotifyPaths:
    """The notifier's subscription on the alerts topic, and the undeliverable topic + its subscription:
    declared in infra/resources.json, so applying `names` (the gcp_resources fixture) created them."""
    return NotifyPaths(
        names.subscription_path("notify_subscription"),
        names.topic_path("notify_undeliverable_topic"),
        names.subscription_path("notify_undeliverable_subscription"),
    )


def write_config(path: Path, hook, slack, telegram, smtp, cameras: str, extra: str = "") -> Path:
    """Channels for the four peers (secrets as ${ENV} references, see `notifier_env`), one route for
    `cameras`, plus `extra` YAML lines under `routes:` (and channels defined in them)."""
    path.write_text(
        f"""
update_every_minutes: 10
channels:
  hook: {{type: webhook, url: "{hook.url}/fire", secret: "${{FW_HOOK_SECRET}}"}}
  chat: {{type: slack, url: "${{FW_SLACK_URL}}"}}
  phone: {{type: telegram, token: "${{FW_TG_TOKEN}}", chat_id: "-1001", api_base: "{telegram.url}"}}
  mail: {{type: email, host: 127.0.0.1, port: {smtp.port}, starttls: false, sender: fire@example.org,
          to: [ops@example.org]}}
{extra}
routes:
  - {{cameras: ["{cameras}"], events: [open, update, close, stale], channels: [hook, chat, phone, mail]}}
"""
    )
    return path


def notifier_env(slack) -> dict[str, str]:
    return {**os.environ, "FW_HOOK_SECRET": SECRET, "FW_SLACK_URL": f"{slack.url}/services/T/B/X",
            "FW_TG_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"}  # fmt: skip


@contextlib.contextmanager
def notifier_process(config: Path, paths: NotifyPaths, slack, log_path: Path) -> Iterator[subprocess.Popen]:
    """`firewatch notify` pulling `paths.subscription`, ready (its pull opened) when this yields."""
    cmd = [sys.executable, "-m", "firewatch.cli", "notify", "--config", str(config),
           "--subscription", paths.subscription, "--undeliverable-topic", paths.undeliverable,
           "--console-url", CONSOLE, "--attempts", "3", "--initial-backoff-s", "0.05", "--timeout-s", "2"]  # fmt: skip
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=notifier_env(slack), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for(lambda: "notify: pulling" in log_path.read_text() or proc.poll() is not None, 60, log_path)
        assert proc.poll() is None, log_path.read_text()
        time.sleep(1.0)  # the streaming pull opens just after the line
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def wait_for(condition, timeout_s: float, log_path: Path, every: float = 0.05) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout_s} s; notifier log:\n{log_path.read_text()[-4000:]}")


def pull_one(subscription: str, timeout_s: float = 60):
    from firewatch.cloud.clients import subscriber_client

    subscriber = subscriber_client()
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        response = subscriber.pull(subscription=subscription, max_messages=1, timeout=10)
        if response.received_messages:
            (received,) = response.received_messages
            subscriber.acknowledge(subscription=subscription, ack_ids=[received.ack_id])
            return received
    raise AssertionError(f"nothing on {subscription}")
