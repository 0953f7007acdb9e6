"""`firewatch export-tflite` and `firewatch edge run`: flags -> pydantic config -> the edge jobs."""

from __future__ import annotations

import argparse
import sys

from edge.config import EdgeRunConfig, ExportTFLiteConfig
from firewatch.config.options import add_config_arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    ex = subparsers.add_parser(
        "export-tflite",
        help="TFLite variants (float32, float16, dynamic/full int8) of MODEL_DIR + a comparison table",
    )
    add_config_arguments(ex, ExportTFLiteConfig)
    ex.set_defaults(func=_export_tflite)

    edge = subparsers.add_parser("edge", help="on-device inference with a .tflite model")
    edge_sub = edge.add_subparsers(dest="edge_command", metavar="EDGE_COMMAND")
    edge_sub.required = True
    run = edge_sub.add_parser(
        "run",
        help="classify images, folders, GIFs or videos on CPU and confirm fire like the pipeline",
        description="SOURCE is PATH (camera from --camera) or CAMERA=PATH; repeat for many cameras. "
        "Confirmation flags (--confirm-k ...) are the pipeline's.",
    )
    add_config_arguments(run, EdgeRunConfig, positional=("sources",))
    run.set_defaults(func=_edge_run)


def _export_tflite(args: argparse.Namespace) -> int:
    from edge.tflite_export import TABLE_JSON, TABLE_MD, export_tflite, format_table
    from model.cli import build_config, flag_values, user_errors

    config = build_config(ExportTFLiteConfig, flag_values(args, ExportTFLiteConfig))
    with user_errors():
        table = export_tflite(config)
    print(format_table(table))
    print(f"wrote {len(table['rows']) - 1} .tflite files, {TABLE_MD} and {TABLE_JSON} to {config.output}")
    return 0


def _edge_run(args: argparse.Namespace) -> int:
    from edge.litert import load_tflite
    from edge.run import alert_publisher, as_json, format_event, format_frame, run_edge
    from firewatch.clients.publish import SourceError, parse_sources
    from firewatch.config.options import config_from_args
    from firewatch.errors import ConfigError, UserError
    from model.cli import user_errors

    try:
        config = config_from_args(EdgeRunConfig, args)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    with user_errors():
        model = load_tflite(config.model, config.num_threads)
    publish = None
    if config.publish:
        from firewatch.cloud.clients import project_id

        publish = alert_publisher(config.alerts_topic, project_id(config.project))
    published = 0

    def on_frame(result) -> None:
        print(as_json(result.as_dict()) if config.json_output else format_frame(result), flush=True)

    def on_event(event) -> None:
        nonlocal published
        print(as_json(event) if config.json_output else format_event(event), flush=True)
        if publish:
            publish(event)
            published += 1

    try:
        report = run_edge(
            model,
            parse_sources(config.sources, config.camera),
            confirm=config.confirm,
            fps=config.fps,
            threshold=config.threshold,
            on_frame=on_frame,
            on_event=on_event,
            regions=config.regions,
        )
    except SourceError as exc:
        raise UserError(str(exc)) from None
    fire = sum(1 for f in report.frames if f.label == model.class_names[1])
    print(
        f"edge: {len(report.frames)} frames ({fire} fire, {report.errors} skipped), {len(report.events)} alert events"
        + (f", {published} published to {config.alerts_topic}" if config.publish else ""),
        file=sys.stderr,
    )
    return 0
