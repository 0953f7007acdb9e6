"""CLI for the user-side clients: `firewatch publish` and `firewatch alerts`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pydantic import BaseModel

from firewatch.config.clients import AlertsConfig, PublishConfig
from firewatch.config.options import add_config_arguments, config_from_args
from firewatch.errors import ConfigError, UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    pub = subparsers.add_parser(
        "publish",
        help="publish frames (files, folders, animated images/videos) to the frames topic",
        description="SOURCE is PATH (camera from --camera) or CAMERA=PATH; repeat for many cameras.",
    )
    add_config_arguments(pub, PublishConfig, positional=("sources",))
    pub.set_defaults(func=_publish)

    alerts = subparsers.add_parser("alerts", help="print fire alerts live from the alert subscription")
    add_config_arguments(alerts, AlertsConfig)
    alerts.set_defaults(func=_alerts)


def _config(model: type[BaseModel], args: argparse.Namespace) -> Any:
    try:
        return config_from_args(model, args)
    except ConfigError as exc:
        raise UserError(str(exc)) from None


def _publish(args: argparse.Namespace) -> int:
    from firewatch.clients.publish import SourceError, parse_sources, print_progress, publish_cameras
    from firewatch.cloud.clients import project_id

    cfg = _config(PublishConfig, args)
    shown: list[bool] = []

    def progress(report) -> None:
        shown.append(True)
        print_progress(report)

    try:
        report = publish_cameras(
            parse_sources(list(cfg.sources), cfg.camera),
            topic=cfg.topic,
            project=project_id(cfg.project),
            fps=cfg.fps,
            as_uri=cfg.as_uri,
            bucket=cfg.bucket,
            fast=cfg.fast,
            progress=progress,
        )
    except SourceError as exc:
        if shown:
            print(file=sys.stderr)  # end the progress line before the error
        raise UserError(str(exc)) from None
    print(file=sys.stderr)  # end the progress line
    print(f"published {report.total} frames: " + ", ".join(f"{c}={n}" for c, n in report.published.items()))
    return 0


def _alerts(args: argparse.Namespace) -> int:
    from firewatch.clients.alerts import format_alert, listen
    from firewatch.cloud.clients import project_id

    cfg = _config(AlertsConfig, args)

    def show(event):
        print(json.dumps(event, sort_keys=True) if cfg.as_json else format_alert(event), flush=True)

    listen(
        cfg.subscription, project_id(cfg.project), show, camera=cfg.camera, max_alerts=cfg.count, timeout=cfg.timeout
    )
    return 0
