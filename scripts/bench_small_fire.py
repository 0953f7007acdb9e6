"""Small fires in 1080p frames: whole-frame scoring vs region scoring (`firewatch.core.regions`), one run.

On the HELD-OUT real photographs without fire (`make real-negatives`; never trained on), resized
and cropped to 1920 x 1080, with procedural flames (`model.data.composite`; not photographs of fire)
pasted at 50, 25, 12, 6 and 3% of the frame's height, several positions and lightings each:
recall by flame height, how many hits report a box (the top fire box of `summarise`) overlapping
the flame with IoU >= 0.3, the share of the same photos without flame that is flagged, and 1080p
frames/s in one process (JPEG decode + region_inputs + the model's float signature). Prints a
markdown table and writes the JSON report.

    nice -n 15 .venv/bin/python scripts/bench_small_fire.py --model MODEL_DIR [--out bench_small_fire.json]

Without --model it builds (or reuses) the demo model under artifacts/bench/demo-model.
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
    from model.evaluation.small_fire import HEIGHTS, measure, table

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="exported MODEL_DIR (default: the demo model, built if missing)")
    parser.add_argument("--photos", default=str(REPO / "artifacts" / "real-negatives" / "heldout"))
    parser.add_argument("--heights", default=",".join(f"{h:g}" for h in HEIGHTS))
    parser.add_argument("--per-photo", type=int, default=2, help="flames per photo and height")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, help="override the model's threshold")
    parser.add_argument("--speed-frames", type=int, default=12, help="frames timed per mode (0: skip)")
    parser.add_argument("--out", default="bench_small_fire.json")
    parser.add_argument(
        "--data", help="the model's TFRecords, for its test split per source (default: the demo model's, if present)"
    )
    args = parser.parse_args(argv)
    model_dir = args.model
    if model_dir is None:
        from model.demo import ensure_demo_model

        model_dir = str(ensure_demo_model(REPO / "artifacts" / "bench" / "demo-model"))
    started = time.perf_counter()
    report = measure(
        model_dir,
        args.photos,
        heights=[float(h) for h in args.heights.split(",")],
        per_photo=args.per_photo,
        seed=args.seed,
        speed_frames=args.speed_frames,
        threshold=args.threshold,
    )
    meta = json.loads((Path(model_dir) / "firewatch_model.json").read_text())
    from model.demo import demo_data_dir
    from model.evaluation.small_fire import source_metrics

    data = Path(args.data) if args.data else demo_data_dir(model_dir)
    if data.is_dir():
        report["test_split_by_source"] = source_metrics(model_dir, data, threshold=args.threshold)
    report |= {
        "model": str(model_dir),
        "model_version": meta["model_version"],
        "data_description": meta["data_description"],
        "synthetic_valid": {k: meta["metrics"]["valid"].get(k) for k in ("recall", "precision")},
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPU cores, {platform.python_version()}",
        "date": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "seconds": round(time.perf_counter() - started, 1),
    }
    Path(args.out).write_text(json.dumps(report, indent=2, default=lambda o: o.item()))
    print(
        f"Small fires at 1080p ({report['photos']} held-out real photos, {args.per_photo} flames per photo and "
        f"height; positives are procedural flames, not photographs of fire) - {report['machine']}, {report['date']}"
    )
    print(table(report))
    print("\nRegion scoring at other thresholds (recall by flame height; clear frames flagged):")
    heights = list(report["modes"]["regions"]["by_height"]) if "regions" in report["modes"] else []
    print("| threshold | " + " | ".join(f"{float(h) * 100:g}%" for h in heights) + " | clear flagged |")
    print("|---|" + "---|" * (len(heights) + 1))
    for row in report["modes"].get("regions", {}).get("sweep", []):
        cells = [f"{row[f'recall_{h}']:.2f}" for h in heights]
        print(f"| {row['threshold']:g} | " + " | ".join(cells) + f" | {row['clear_flagged']:.3f} |")
    for source, metrics in report.get("test_split_by_source", {}).items():
        print(
            f"test split, {source}: "
            + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())
        )
    print(f"model {report['model_version']}: {report['data_description']}")
    print(f"report: {args.out} ({report['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
