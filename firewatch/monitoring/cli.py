"""`firewatch drift reference|run` (flags = `DriftReferenceConfig` / `DriftConfig`, 1:1)."""

from __future__ import annotations

import argparse

from firewatch.config.options import add_config_arguments, config_from_args
from firewatch.monitoring.drift_job import DriftConfig, DriftReferenceConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    drift = subparsers.add_parser("drift", help="camera drift against a reference (scheduled batch job)")
    sub = drift.add_subparsers(dest="drift_command", metavar="DRIFT_COMMAND")
    sub.required = True
    ref = sub.add_parser("reference", help="scores + image statistics of a reference image folder -> JSON")
    add_config_arguments(ref, DriftReferenceConfig)
    ref.set_defaults(func=_reference)
    run = sub.add_parser("run", help="PSI per camera over the last window -> monitoring table + drift events")
    add_config_arguments(run, DriftConfig)
    run.set_defaults(func=_run)


def _reference(args: argparse.Namespace) -> int:
    from firewatch.monitoring.drift_job import build_reference

    config = config_from_args(DriftReferenceConfig, args)
    reference = build_reference(config)
    print(f"reference of {reference.frames} images (model {reference.model_version}) -> {config.output}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from firewatch.monitoring.drift_job import run_drift

    config = config_from_args(DriftConfig, args)
    report = run_drift(config)
    for row in report.rows:
        psis = ", ".join(f"{m}={row[f'psi_{m}']:.3f}" for m in ("score", "brightness", "colourfulness")
                         if row[f"psi_{m}"] is not None)  # fmt: skip
        flag = ("DRIFT (event published)" if row["event_published"] else "DRIFT") if row["drifting"] else "ok"
        print(f"{row['camera_id']:<20} frames={row['frames']:<5} {psis}  {flag}")
    for camera, n in report.too_few_frames.items():
        print(f"{camera:<20} frames={n:<5} not judged (fewer than --min-frames {config.min_frames})")
    print(f"{len(report.rows)} cameras judged, {len(report.events)} drift events published")
    return 0
