"""`firewatch notify [serve]` (flags = `NotifyConfig`, 1:1): pull subscriber, or push endpoint."""

from __future__ import annotations

import argparse
import logging

from firewatch.config.options import add_config_arguments, config_from_args
from firewatch.notify.config import NotifyConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    notify = subparsers.add_parser(
        "notify",
        help="send alert and camera-health events to webhooks, Slack, Telegram and e-mail",
        description="Without a mode: pull from --subscription. `serve`: an HTTP endpoint for a Pub/Sub "
        "push subscription (Cloud Run). See docs/notify.md.",
    )
    add_config_arguments(notify, NotifyConfig, positional=("mode",))
    notify.set_defaults(func=_notify)


def _notify(args: argparse.Namespace) -> int:
    from firewatch.errors import UserError
    from firewatch.notify.runner import build_notifier, run_pull

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    cfg = config_from_args(NotifyConfig, args)
    notifier = build_notifier(cfg)
    if cfg.mode == "serve":
        import uvicorn

        from firewatch.notify.push import create_app

        uvicorn.run(create_app(notifier), host=cfg.host, port=cfg.port, log_level="info")
        return 0
    from google.api_core import exceptions as gexc

    try:
        run_pull(cfg, notifier=notifier)
    except gexc.NotFound as exc:
        raise UserError(f"firewatch notify: subscription {cfg.subscription} not found: {exc.message}") from None
    except KeyboardInterrupt:
        return 0
    return 0
