"""Benchmark explanations on an exported model: cost per frame and completeness error.

Prints, for synthetic fire frames (`model.data.synth.render_fire_frame`, synthetic data):
* Integrated Gradients ms/frame and completeness error for several step counts, with
  Firewatch's trapezoid rule and with the `saliency` library's rule (equal weights on
  `steps` points including both ends),
* XRAI ms/frame for each segmentation option and algorithm,
* how often the top XRAI region's box hits the drawn flame, against the chance rate of a
  random box of the same size,
* IG of each frame alone against all frames' path points sent through the model together
  (`integrated_gradients_many`, what the explain step does with frames waiting at once).

Usage: python scripts/bench_explain.py [MODEL_DIR] [--frames N]
(without MODEL_DIR the demo model is built into artifacts/demo-model if missing).
Numbers only, no assertions: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests.fixtures.regions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", nargs="?", default=None)
    parser.add_argument("--frames", type=int, default=10)
    args = parser.parse_args()

    import saliency.core as saliency

    from firewatch.cloud.models import load_exported
    from firewatch.core.attribution import (
        integrated_gradients,
        integrated_gradients_many,
        saliency_call_model_function,
        xrai_region_masks,
    )
    from firewatch.core.explain import ExplainConfig, explain_image, region_from_mask
    from firewatch.core.imaging import to_model_input
    from model.data.synth import render_fire_frame
    from tests.fixtures.regions import box_hit, chance_hit_rate

    model_dir = args.model_dir
    if model_dir is None:
        from model.demo import ensure_demo_model

        model_dir = str(ensure_demo_model("artifacts/demo-model"))
    model = load_exported(model_dir)
    size = model.metadata.image_size
    rng = np.random.default_rng(1234)
    frames = [render_fire_frame(rng) for _ in range(args.frames)]
    images = [to_model_input(pixels, size) for pixels, _ in frames]
    masks_small = [
        to_model_input(flame.astype(np.uint8)[..., None].repeat(3, -1) * 255, size)[..., 0] > 0.5 for _, flame in frames
    ]
    probs = model.predict_images(np.stack(images))
    print(
        f"model {model.metadata.model_version}, {size} px, {len(frames)} synthetic fire frames, "
        f"p(fire) min {probs.min():.3f} median {np.median(probs):.3f}"
    )
    explain_image(model.float_fn, images[0], ExplainConfig(steps=8))  # warm-up (tracing)

    print("\nIntegrated Gradients, black + white baselines (error = |sum attr - (f(x) - mean f(b))|)")
    call = saliency_call_model_function(model.float_fn)
    ig = saliency.IntegratedGradients()
    for steps in (8, 16, 32, 64, 128):
        ours_ms, ours_err, lib_ms, lib_err = [], [], [], []
        for image in images:
            t = time.perf_counter()
            attr, p, base_p = integrated_gradients(model.float_fn, image, ("black", "white"), steps, 64)
            ours_ms.append((time.perf_counter() - t) * 1e3)
            ours_err.append(abs(attr.sum() - (p - np.mean(base_p))))
            t = time.perf_counter()
            lib = np.mean(
                [
                    ig.GetMask(image, call, x_baseline=np.full_like(image, v), x_steps=steps, batch_size=steps)
                    for v in (0.0, 1.0)
                ],
                axis=0,
            )
            lib_ms.append((time.perf_counter() - t) * 1e3)
            lib_err.append(abs(lib.sum() - (p - np.mean(base_p))))
        print(
            f"  steps {steps:4d}: trapezoid {np.mean(ours_ms):6.0f} ms, error mean {np.mean(ours_err):.4f} "
            f"max {np.max(ours_err):.4f} | saliency IG {np.mean(lib_ms):6.0f} ms, error mean "
            f"{np.mean(lib_err):.4f} max {np.max(lib_err):.4f}"
        )

    print("\nXRAI regions (given the IG attributions), top region vs the drawn flame")
    attrs = [integrated_gradients(model.float_fn, im, ("black", "white"), 32, 64)[0].sum(-1) for im in images]
    for segmentation in ("library", "fast"):
        for algorithm in ("full", "fast"):
            config = ExplainConfig(xrai_segmentation=segmentation, xrai_algorithm=algorithm)
            ms, hits, chance = [], [], []
            for image, attr, flame in zip(images, attrs, masks_small, strict=True):
                t = time.perf_counter()
                masks = xrai_region_masks(image, attr, config)
                ms.append((time.perf_counter() - t) * 1e3)
                top = max((region_from_mask(m, attr) for m in masks[: config.top_k_regions]), key=lambda r: r.share)
                hits.append(box_hit(top, flame))
                chance.append(chance_hit_rate(top, flame))
            print(
                f"  segmentation {segmentation:7s} algorithm {algorithm}: {np.mean(ms):6.0f} ms/frame, "
                f"top-region hit {np.mean(hits):.0%} vs chance {np.mean(chance):.0%}"
            )

    print("\nIG across frames (32 steps, 2 baselines): each frame alone vs all frames' points together")
    for chunk in (8, 32, 128):
        t = time.perf_counter()
        for image in images:
            integrated_gradients(model.float_fn, image, ("black", "white"), 32, chunk)
        alone = (time.perf_counter() - t) * 1e3 / len(images)
        t = time.perf_counter()
        integrated_gradients_many(model.float_fn, images, ("black", "white"), 32, chunk)
        together = (time.perf_counter() - t) * 1e3 / len(images)
        print(
            f"  {chunk:3d} points per model call: alone {alone:5.0f} ms/frame, together {together:5.0f} ms/frame "
            f"({together / alone:.2f}x)"
        )

    print("\nWhole explain_image (default config):")
    config = ExplainConfig()
    runs = [explain_image(model.float_fn, image, config) for image in images]
    print(
        f"  {np.mean([r.compute_ms for r in runs]):.0f} ms/frame (IG {np.mean([r.timings_ms['ig'] for r in runs]):.0f}"
        f", XRAI {np.mean([r.timings_ms['xrai'] for r in runs]):.0f}); error max "
        f"{max(r.approximation_error for r in runs):.4f}; config {config.model_dump()}"
    )


if __name__ == "__main__":
    main()
