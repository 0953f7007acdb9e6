"""Fires over time on simulated fixed cameras: seconds from a 3%-high flame to the alert, and false
alerts per camera-day on clear cameras, with the model's threshold alone and with per-camera
baselines (`model.evaluation.sequences`). Prints a markdown table and writes the JSON report.

    nice -n 15 .venv/bin/python scripts/bench_fire_sequences.py --model MODEL_DIR [--cameras 31]

Cameras are the HELD-OUT real photographs (`make real-negatives`) under a simulated day's light;
the flames are procedural (not photographs of fire). Without --model it builds (or reuses) the
demo model under artifacts/bench/demo-model. Figures are frame-time seconds (the confirmation's
clock), not wall-clock, so a busy machine does not change them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    from firewatch.cloud.models import load_exported
    from firewatch.core.baselines import BaselineConfig
    from firewatch.core.confirm import ConfirmConfig
    from model.evaluation.sequence_report import summary, table
    from model.evaluation.sequences import FrameScorer, cameras, measure_camera
    from model.evaluation.small_fire import load_frames

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="exported MODEL_DIR (default: the demo model, built if missing)")
    parser.add_argument("--photos", default=str(REPO / "artifacts" / "real-negatives" / "heldout"))
    parser.add_argument(
        "--cameras", type=int, default=0, help="this many cameras, spread evenly over the photos (0: one per photo)"
    )
    parser.add_argument("--hours-step", type=int, default=2, help="a clear window every this many hours")
    parser.add_argument("--ignition-hours", default="12,20", help="hours (UTC) at which a fire starts")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between a camera's frames")
    parser.add_argument("--doubling", type=float, default=120.0, help="seconds in which the flame doubles in height")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="an ignition is followed this long")
    parser.add_argument("--target", type=float, default=60.0, help="seconds after 3%% height an alert should come")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="bench_fire_sequences.json")
    args = parser.parse_args(argv)

    model_dir = args.model
    if model_dir is None:
        from model.demo import ensure_demo_model

        model_dir = str(ensure_demo_model(REPO / "artifacts" / "bench" / "demo-model"))
    model = load_exported(str(model_dir))
    meta = model.metadata
    scorer = FrameScorer(model.predict_images, meta.image_size, meta.threshold, meta.model_version)
    confirm, baseline_config = ConfirmConfig(), BaselineConfig()
    hours = list(range(0, 24, args.hours_step))
    ignition_hours = [int(h) for h in args.ignition_hours.split(",")]
    if not set(ignition_hours) <= set(hours):
        parser.error(f"--ignition-hours must be among the sampled hours {hours} (they need baselines)")
    fleet = cameras(load_frames(args.photos), args.seed)
    if 0 < args.cameras < len(fleet):
        fleet = [fleet[round(i * len(fleet) / args.cameras)] for i in range(args.cameras)]
    started = time.perf_counter()
    results = []
    for n, camera in enumerate(fleet, 1):
        result = measure_camera(
            scorer, camera, hours=hours, ignition_hours=ignition_hours, interval=args.interval,
            doubling_seconds=args.doubling, max_seconds=args.max_seconds, confirm=confirm,
            baseline_config=baseline_config, seed=args.seed,
        )  # fmt: skip
        results.append(result)
        alerts = {k: len(v) for k, v in result.false_alerts.items()}
        print(
            f"[{n}/{len(fleet)}] {camera.name}: false alerts {alerts}, "
            f"ignitions {result.ignitions} ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    report = {
        "summary": summary(results, args.target),
        "target_seconds": args.target,
        "cameras": [r.__dict__ for r in results],
        "settings": {
            "hours": hours,
            "ignition_hours": ignition_hours,
            "interval_seconds": args.interval,
            "doubling_seconds": args.doubling,
            "max_seconds": args.max_seconds,
            "confirm": confirm.model_dump(),
            "baselines": baseline_config.model_dump(),
        },  # fmt: skip
        "positives": "procedural flames (model.data.composite) pasted into real photographs; not photographs of fire",
        "model": str(model_dir),
        "model_version": meta.model_version,
        "threshold": meta.threshold,
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPU cores, {platform.python_version()}",
        "date": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "seconds": round(time.perf_counter() - started, 1),
    }
    Path(args.out).write_text(json.dumps(report, indent=2, default=str))
    print(
        f"\nFire sequences ({len(results)} held-out cameras; a frame every {args.interval:g} s; flame from 1% of "
        f"the frame height, doubling every {args.doubling:g} s; confirmation k={confirm.k} of n={confirm.n})\n"
    )
    print(table(report))
    print(f"\nreport: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
