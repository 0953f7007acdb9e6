"""CLI for the user-side clients: `firewatch publish` and `firewatch alerts`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    pub = subparsers.add_parser(
        "publish",
        help="publish frames (files, folders, animated images/videos) to the frames topic",
        description="SOURCE is PATH (camera from --camera) or CAMERA=PATH; repeat for many cameras.",
    )
    pub.add_argument("sources", nargs="+", metavar="SOURCE")
    pub.add_argument("--camera", help="camera id for sources given without CAMERA=")
    pub.add_argument("--topic", default="frames")
    pub.add_argument("--project", default=None)
    pub.add_argument("--fps", type=float, default=1.0, help="frames per second per camera (default 1)")
    pub.add_argument("--as-uri", action="store_true", help='upload to GCS and publish {"uri": ...}')
    pub.add_argument("--bucket", default="firewatch-frames", help="bucket for --as-uri")
    pub.add_argument("--fast", action="store_true", help="do not wait between frames (captured_at still spaced)")
    pub.set_defaults(func=_publish)

    alerts = subparsers.add_parser("alerts", help="print fire alerts live from the alert subscription")
    alerts.add_argument("--subscription", default="alerts-sub")
    alerts.add_argument("--project", default=None)
    alerts.add_argument("--camera", help="only this camera")
    alerts.add_argument("--count", type=int, default=None, help="stop after this many alerts")
    alerts.add_argument("--timeout", type=float, default=None, help="stop after this many seconds")
    alerts.add_argument("--json", action="store_true", help="print each alert as JSON")
    alerts.set_defaults(func=_alerts)


def _parse_sources(values: list[str], camera: str | None):
    from firewatch.clients.publish import CameraSource
    from firewatch.errors import UserError

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
    from firewatch.errors import UserError

    try:
        report = publish_cameras(
            _parse_sources(args.sources, args.camera),
            topic=args.topic,
            project=project_id(args.project),
            fps=args.fps,
            as_uri=args.as_uri,
            bucket=args.bucket,
            fast=args.fast,
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

    def show(event):
        print(json.dumps(event, sort_keys=True) if args.json else format_alert(event), flush=True)

    listen(
        args.subscription,
        project_id(args.project),
        show,
        camera=args.camera,
        max_alerts=args.count,
        timeout=args.timeout,
    )
    return 0
