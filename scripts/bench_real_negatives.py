"""Compare demo-model recipes on synthetic metrics and on false alarms on held-out real photos.

For each recipe: build the demo model (synth [+ crops of the *train* real photos] -> ingest ->
train -> export) with `model.demo.ensure_demo_model`, then `firewatch evaluate` it on its
synthetic test split and on `artifacts/real-negatives/heldout` (never trained on). Prints a
markdown table: synthetic recall / precision at the model's threshold, recall at precision
0.95, false alarms per 1,000 held-out tiles, training time and images/s, evaluation tiles/s.

    nice -n 15 .venv/bin/python scripts/bench_real_negatives.py [--only NAME ...] [--out DIR]

Needs `make real-negatives` first. Takes a few minutes per recipe on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
HELDOUT = REPO / "artifacts" / "real-negatives" / "heldout"
TRAIN = REPO / "artifacts" / "real-negatives" / "train"
RECIPES: dict[str, dict] = {
    "small_cnn, synthetic only": {"real_negatives": None},
    "small_cnn + real crops": {},
    "small_cnn + real crops + colour aug": {"colour_augment": True},
    "small_cnn + real crops, 8 epochs": {"epochs": 8},
    "mobilenet_v2 + real crops": {"backbone": "mobilenet_v2", "epochs": 2, "fine_tune_epochs": 1},
}


def recall_at_precision(y: np.ndarray, p: np.ndarray, precision: float) -> float:
    from model.metrics import recall_at_precision as rap

    return rap(y, p, precision)


def run(name: str, recipe: dict, out: Path) -> dict:
    from firewatch.cloud.models import load_exported
    from model.config import EvaluateConfig
    from model.data.dataset import eval_dataset
    from model.demo import demo_data_dir, ensure_demo_model
    from model.evaluation.evaluate import evaluate

    model_dir = out / name.replace(" ", "_").replace(",", "").replace("+", "plus")
    started = time.perf_counter()
    ensure_demo_model(model_dir, force=True, real_negatives=recipe.pop("real_negatives", TRAIN), **recipe)
    build_seconds = time.perf_counter() - started
    timings = dict(
        line.split() for line in (Path(f"{model_dir}.work") / "timings.txt").read_text().splitlines() if line
    )
    train_seconds = float(timings["train"].rstrip("s"))
    meta = json.loads((model_dir / "firewatch_model.json").read_text())
    data = demo_data_dir(model_dir)
    report = evaluate(
        EvaluateConfig(model=str(model_dir), data=str(data), output=str(model_dir) + ".eval", negatives=str(HELDOUT))
    )
    exported = load_exported(str(model_dir))
    ys, ps = [], []
    for images, labels in eval_dataset(str(data), "test", meta["image_size"], 64):
        ps.append(exported.predict_images(images.numpy()))
        ys.append(labels.numpy())
    neg = report["real_negatives"]
    return {
        "recipe": name,
        "recall": report["recall"],
        "precision": report["precision"],
        "recall_at_p95": recall_at_precision(np.concatenate(ys), np.concatenate(ps), 0.95),
        "fa_per_1000": neg["per_1000_tiles"],
        "false_alarms": f"{neg['false_alarms']}/{neg['tiles']}",
        "train_s": train_seconds,
        "build_s": build_seconds,
        "train_img_s": meta["metrics"]["train_images"] * meta["metrics"]["epochs"] / train_seconds,
        "eval_tiles_s": neg["tiles_per_second"],
        "threshold": report["threshold"],
        "data": meta["data_description"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="/tmp/firewatch-bench-negatives")
    parser.add_argument("--only", nargs="*", help="recipe names (substring match)")
    args = parser.parse_args()
    if not HELDOUT.is_dir():
        raise SystemExit("run `make real-negatives` first (artifacts/real-negatives/heldout is missing)")
    rows = []
    for name, recipe in RECIPES.items():
        if args.only and not any(o in name for o in args.only):
            continue
        row = run(name, dict(recipe), Path(args.out))
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"\nmachine: {platform.machine()}, {platform.processor() or ''} {__import__('os').cpu_count()} cores")
    print(
        "| recipe | synthetic recall | synthetic precision | recall at precision 0.95 | held-out false alarms "
        "per 1,000 tiles | training s | training img/s | evaluation tiles/s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['recipe']} | {r['recall']:.3f} | {r['precision']:.3f} | {r['recall_at_p95']:.3f} | "
            f"{r['fa_per_1000']:.1f} ({r['false_alarms']}) | {r['train_s']:.0f} | {r['train_img_s']:.0f} | "
            f"{r['eval_tiles_s']:.0f} |"
        )


if __name__ == "__main__":
    main()
