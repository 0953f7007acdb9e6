"""Benchmark of Firewatch's scoring path on this machine: prints figures, asserts nothing.

On the demo model (trained first if `--model` is missing), with synthetic 192 px PNG frames:
  * decode + preprocess per image (`firewatch.core.imaging`, what DecodeFrames does);
  * the float signature (`predict_images`, what RunInference calls) at batch 1, 8, 32, 64,
    as images/s and as a ratio against batch 1 measured in the same run;
  * the bytes signature (`serving_default`, decode in the graph) at batch 32;
  * the batch pipeline end to end on a folder (local FnApiRunner), images/s.

    .venv/bin/python scripts/bench_inference.py [--model artifacts/demo-model] [--images 256]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def timed(fn, repeat: int = 3) -> float:
    """Best wall time of `repeat` calls (after one warm-up call)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="artifacts/demo-model")
    parser.add_argument("--images", type=int, default=256)
    args = parser.parse_args()

    from firewatch.cloud.models import load_exported
    from firewatch.core.imaging import decode_image, to_model_input
    from model.data.synth import render_fire_frame, render_negative_frame
    from model.demo import ensure_demo_model

    model_dir = ensure_demo_model(args.model)
    model = load_exported(str(model_dir))
    size = model.metadata.image_size
    rng = np.random.default_rng(0)
    frames = [png(render_fire_frame(rng)[0] if i % 2 else render_negative_frame(rng)) for i in range(args.images)]
    print(f"model {model.metadata.model_version}, {args.images} synthetic PNG frames, input {size} px")

    inputs: list[np.ndarray] = []
    seconds = timed(
        lambda: inputs.__setitem__(slice(None), [to_model_input(decode_image(f).pixels, size) for f in frames]), 1
    )
    print(f"decode + preprocess: {seconds / len(frames) * 1000:.2f} ms/image ({len(frames) / seconds:.0f} images/s)")

    stacked = np.stack(inputs)
    base = None
    for batch in (1, 8, 32, 64):
        n = len(stacked) // batch * batch

        def run(batch: int = batch, n: int = n) -> None:
            for start in range(0, n, batch):
                model.predict_images(stacked[start : start + batch])

        rate = n / timed(run)
        base = base or rate
        print(f"predict_images batch {batch:>2}: {rate:8.0f} images/s  ({rate / base:.1f}x batch 1)")

    n = len(frames) // 32 * 32
    rate = n / timed(lambda: [model.predict_bytes(frames[s : s + 32]) for s in range(0, n, 32)])
    print(f"serving_default (bytes, decode in graph) batch 32: {rate:.0f} images/s")

    from batch.config import BatchConfig
    from batch.runner import run as run_batch

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "frames"
        folder.mkdir()
        for i, data in enumerate(frames):
            (folder / f"{i:05d}.png").write_bytes(data)
        summary = run_batch(
            BatchConfig(model=str(model_dir), input=str(folder), output=str(Path(tmp) / "out"), explain=False)
        )
    print(f"batch pipeline (local runner, no explanations): {summary.render()}")


if __name__ == "__main__":
    main()
