"""CLI for the user-side clients: `firewatch publish` and `firewatch alerts`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
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
    pub.add_argument("sources", nargs="+", metavar="SOURCE")
    add_config_arguments(pub, PublishConfig)
    pub.set_defaults(func=_publish)

    alerts = subparsers.add_parser("alerts", help="print fire alerts live from the alert subscription")
    add_config_arguments(alerts, AlertsConfig)
    alerts.set_defaults(func=_alerts)


def _config(model: type[BaseModel], args: argparse.Namespace) -> Any:
    try:
        return config_from_args(model, args)
    except ConfigError as exc:
        raise UserError(str(exc)) from None


def _parse_sources(values: list[str], camera: str | None):
    from firewatch.clients.publish import CameraSource

    by_camera: dict[str, list[Path]] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if sep and not Path(value).exists():
            cam, source = name, path
        elif camera:
            cam, source = camera, value
        else:
            raise UserError(f"source {value!r} has no camera: use --camera ID or CAMERA=PATH")
        by_camera.setdefault(cam, []).append(Path(source))
    return [CameraSource(cam, paths) for cam, paths in by_camera.items()]


def _publish(args: argparse.Namespace) -> int:
    from firewatch.clients.publish import SourceError, print_progress, publish_cameras
    from firewatch.cloud.clients import project_id

    cfg = _config(PublishConfig, args)
    try:
        report = publish_cameras(
            _parse_sources(args.sources, cfg.camera),
            topic=cfg.topic,
            project=project_id(cfg.project),
            fps=cfg.fps,
            as_uri=cfg.as_uri,
            bucket=cfg.bucket,
            fast=cfg.fast,
            progress=print_progress,
        )
    except SourceError as exc:
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
