"""Building a `Notifier` from `NotifyConfig`, and the Pub/Sub pull subscriber around it.

`build_notifier` reads the config file (secrets resolved at start-up, so a missing one stops the
process with one clear line) and publishes undeliverable messages with the project's Pub/Sub
client. `run_pull` streams from the subscription with at most `max_in_flight` messages at a time
and acks each one only when the notifier says so (nacks otherwise: Pub/Sub delivers it again).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from firewatch.core.names import resource_path
from firewatch.notify.config import NotifyConfig
from firewatch.notify.service import DeliveryPolicy, Notifier
from firewatch.notify.settings import load_settings

log = logging.getLogger("firewatch.notify")


def build_notifier(cfg: NotifyConfig) -> Notifier:
    from firewatch.cloud.clients import project_id, publisher_client

    settings = load_settings(cfg.config)
    project = project_id(cfg.project)
    topic = resource_path("topics", cfg.undeliverable_topic, project)
    publisher = publisher_client()

    def publish(data: bytes, attributes: dict[str, str]) -> None:
        publisher.publish(topic, data, **attributes).result(timeout=60)

    policy = DeliveryPolicy(
        console_url=cfg.console_url,
        attempts=cfg.attempts,
        initial_backoff_s=cfg.initial_backoff_s,
        max_backoff_s=cfg.max_backoff_s,
        timeout_s=cfg.timeout_s,
        thumbnail_px=cfg.thumbnail_px,
    )
    return Notifier(settings, policy, publish)


def run_pull(cfg: NotifyConfig, stop: threading.Event | None = None, notifier: Notifier | None = None) -> None:
    """Pull and deliver until `stop` is set (or forever); errors of the stream end it loudly."""
    from google.cloud import pubsub_v1

    from firewatch.cloud.clients import project_id, subscriber_client
    from firewatch.errors import UserError

    if not cfg.subscription:
        raise UserError("firewatch notify: --subscription is required to pull (or use `firewatch notify serve`)")
    notifier = notifier or build_notifier(cfg)
    subscription = resource_path("subscriptions", cfg.subscription, project_id(cfg.project))
    subscriber = subscriber_client()

    def callback(msg) -> None:
        try:
            outcome = notifier.handle(msg.data, dict(msg.attributes), msg.message_id)
        except Exception:  # a bug must not lose the message: it comes back
            log.exception("notifier failed on message %s: nacked", msg.message_id)
            msg.nack()
            return
        msg.ack() if outcome.ack else msg.nack()

    scheduler = pubsub_v1.subscriber.scheduler.ThreadScheduler(ThreadPoolExecutor(max_workers=cfg.max_in_flight))
    flow = pubsub_v1.types.FlowControl(max_messages=cfg.max_in_flight)
    future = subscriber.subscribe(subscription, callback, flow_control=flow, scheduler=scheduler)
    log.info("notify: pulling %s", subscription)
    stop = stop or threading.Event()
    try:
        while not stop.is_set():
            if future.done():
                future.result()  # raises the stream's error (e.g. the subscription does not exist)
            stop.wait(0.5)
    finally:
        future.cancel()
        try:
            future.result(timeout=30)
        except Exception:  # noqa: BLE001 - cancelled on purpose
            pass
        subscriber.close()
