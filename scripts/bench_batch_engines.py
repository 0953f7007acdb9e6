"""Benchmark of the two batch engines on the same TFRecords: prints figures, asserts nothing.

Synthetic frames (`model.data.synth`) go through the real ingest job (`firewatch data ingest`: TFRecords
of tf.Examples, all three splits read back as one input); then `firewatch batch` scores them with
`--inference-engine firewatch` (Python decode, float signature) and `--inference-engine tfx-bsl`
(tfx-bsl's RunInference, decode in the graph), alternating, `--rounds` times each, on Beam's local
runner writing JSONL files, explanations off (their cost is the same in both engines). Each run's
images/s counts the whole job (pipeline start, model load, read, score, write), as `firewatch batch`
reports it, and per CPU-second of this process (less sensitive to a shared machine than wall
time); the ratios are tfx-bsl / firewatch within the same round. The tf.Example model is built
before the first timed run (its build time is printed apart). Results also go to `--json`.

    nice -n 10 .venv/bin/python scripts/bench_batch_engines.py [--model artifacts/demo-model] [--images 1500]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

ENGINES = ("firewatch", "tfx-bsl")


def run_engine(model_dir: str, pattern: str, out: Path, engine: str, batch_size: int) -> dict:
    from batch.config import BatchConfig
    from batch.runner import run

    shutil.rmtree(out, ignore_errors=True)
    cfg = BatchConfig(
        model=model_dir,
        input=pattern,
        output=str(out),
        explain=False,
        max_batch_size=batch_size,
        inference_engine=engine,
    )
    cpu = time.process_time()
    summary = run(cfg)
    cpu_s = time.process_time() - cpu
    return {
        "engine": engine,
        "inputs": summary.inputs,
        "predictions": summary.predictions,
        "fire": summary.fire,
        "dead_letters": summary.dead_letters,
        "seconds": round(summary.seconds, 2),
        "images_per_s": round(summary.inputs / summary.seconds, 1),
        "cpu_s": round(cpu_s, 2),
        "images_per_cpu_s": round(summary.inputs / cpu_s, 1),
    }


def compare_outputs(work: Path) -> dict:
    """Per-frame agreement of the two engines' last runs: same frames, labels, probabilities."""
    rows = {}
    for engine in ENGINES:
        found = {}
        for path in sorted((work / f"out-{engine}").glob("predictions-*.jsonl")):
            for line in path.read_text().splitlines():
                if line.strip():
                    row = json.loads(line)
                    found[row["frame_key"]] = row
        rows[engine] = found
    today, tfx = rows["firewatch"], rows["tfx-bsl"]
    shared = sorted(set(today) & set(tfx))
    deltas = [abs(today[k]["fire_probability"] - tfx[k]["fire_probability"]) for k in shared]
    return {
        "frames_firewatch": len(today),
        "frames_tfx_bsl": len(tfx),
        "frames_in_both": len(shared),
        "labels_differ": sum(today[k]["label"] != tfx[k]["label"] for k in shared),
        "max_abs_probability_difference": max(deltas, default=0.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="artifacts/demo-model", help="exported model (trained first if missing)")
    parser.add_argument("--images", type=int, default=1500, help="synthetic frames to ingest")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each engine, alternating")
    parser.add_argument("--batch-size", type=int, default=64, help="--max-batch-size for both engines")
    parser.add_argument("--json", default="artifacts/bench_batch_engines.json")
    parser.add_argument("--workdir", default=None, help="keep data and outputs here (default: a temp folder)")
    args = parser.parse_args()

    from batch.tfx_model import tf_example_model
    from model.config import IngestConfig
    from model.data.ingest import run_ingest
    from model.data.synth import write_dataset
    from model.demo import ensure_demo_model

    work = Path(args.workdir or tempfile.mkdtemp(prefix="firewatch-bench-engines-"))
    work.mkdir(parents=True, exist_ok=True)
    model_dir = str(ensure_demo_model(args.model))
    began = time.perf_counter()
    write_dataset(work / "images", args.images, seed=5)
    summary = run_ingest(IngestConfig(input=str(work / "images"), output=str(work / "records"), num_shards=2))
    pattern = str(work / "records" / "*.tfrecord")
    print(f"ingest: {summary['images_written']} frames -> {pattern} ({time.perf_counter() - began:.1f} s)")
    began = time.perf_counter()
    wrapper = tf_example_model(model_dir)
    build_s = time.perf_counter() - began
    print(f"tf.Example model for tfx-bsl: {wrapper} (built or found in {build_s:.1f} s)")

    runs = []
    for round_ in range(1, args.rounds + 1):
        for engine in ENGINES:
            result = run_engine(model_dir, pattern, work / f"out-{engine}", engine, args.batch_size)
            result["round"] = round_
            runs.append(result)
            print(
                f"round {round_} {engine:>9}: {result['inputs']} inputs -> {result['predictions']} predictions "
                f"({result['fire']} fire), {result['dead_letters']} dead letters; {result['seconds']:.1f} s, "
                f"{result['images_per_s']:.1f} images/s; CPU {result['cpu_s']:.1f} s, "
                f"{result['images_per_cpu_s']:.1f} images per CPU-second",
                flush=True,
            )
    ratios, cpu_ratios = [], []
    for round_ in range(1, args.rounds + 1):
        pair = {r["engine"]: r for r in runs if r["round"] == round_}
        ratios.append(round(pair["tfx-bsl"]["images_per_s"] / pair["firewatch"]["images_per_s"], 2))
        cpu_ratios.append(round(pair["tfx-bsl"]["images_per_cpu_s"] / pair["firewatch"]["images_per_cpu_s"], 2))
    print(f"ratio tfx-bsl / firewatch, images/s (per round): {ratios}; images per CPU-second: {cpu_ratios}")
    agreement = compare_outputs(work)
    print(
        f"agreement: {agreement['frames_in_both']} frames in both outputs, {agreement['labels_differ']} labels "
        f"differ, max |p_tfx - p_firewatch| = {agreement['max_abs_probability_difference']:.2e}"
    )
    report = {
        "model_dir": model_dir,
        "images": summary["images_written"],
        "batch_size": args.batch_size,
        "tf_example_build_s": round(build_s, 1),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "runs": runs,
        "ratio_tfx_over_firewatch": ratios,
        "cpu_ratio_tfx_over_firewatch": cpu_ratios,
        "agreement": agreement,
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2))
    print(f"wrote {args.json}")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
