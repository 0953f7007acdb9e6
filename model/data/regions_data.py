"""The demo model's region recipe: training examples cut the way serving cuts frames into regions.

Serving scores a frame as the whole frame plus full-resolution square regions
(`firewatch.core.regions`), so the model must answer on *regions*: a small flame that fills a
good part of a 0.25-scale region, a region of an everyday scene with no fire at all. This module
makes such examples from the TRAIN part of the real photographs without fire (`make
real-negatives`; the held-out part never comes here):

* frames: a photo resized and cropped to a camera frame size (1920 x 1080, 1600 x 900 or
  1280 x 720; random crop focus, mirror, exposure and, for `WARM_CAST` of them, a warm colour cast
  as in golden-hour or tungsten light);
* (a) positives: `model.data.composite` pastes a procedural flame (height log-uniform between 2.5% and
  45% of the frame's height, random place and lighting) and every region that holds most of the
  flame (`POSITIVE_COVER` of its box) with the flame at least `MIN_FLAME_PX` tall in the model
  input is a fire example; regions that partly hold the flame are left out (ambiguous);
* (b) negatives: regions of the same frames that do not touch the flame or its glow, and regions
  of frames without a flame;
* (d) hard negatives: `mine_hard_negatives` scores every region of clear train frames with a
  trained model and returns the regions it scores highest (its false alarms), for a short
  second training pass (`model.demo`).

Regions are planned with `plan_regions` and cut with `region_inputs` (exactly serving's resize), then
stored as JPEG at the model's input size under `OUT/{fire,no_fire}/`, which `model.data.ingest` reads
like any other image folder ((c), the synthetic set, sits beside them). The flames are procedural,
not photographs of fire.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from PIL import Image

FRAME_SIZES = ((1920, 1080), (1600, 900), (1280, 720))
HEIGHT_RANGE = (0.025, 0.45)
POSITIVE_COVER = 0.8  # a region is a fire example if it holds this share of the flame's box ...
MIN_FLAME_PX = 10  # ... and the flame is at least this tall in the model input
GLOW_MARGIN = 0.6  # a negative region keeps this many flame heights away from the flame's box
IMAGE_SIZE = 128
WARM_CAST = 0.35  # share of frames given a warm colour cast (before any flame is pasted)


def _frame(rng: np.random.Generator, photo: np.ndarray) -> np.ndarray:
    from model.data.composite import fit_frame

    width, height = FRAME_SIZES[rng.integers(len(FRAME_SIZES))]
    frame = fit_frame(photo, width, height, focus=(float(rng.uniform()), float(rng.uniform())))
    frame = np.ascontiguousarray(frame[:, ::-1]) if rng.random() < 0.5 else frame
    if rng.random() < WARM_CAST:  # golden hour or tungsten light: a warm colour cast over the whole scene
        gains = np.array([rng.uniform(1.0, 1.3), rng.uniform(0.85, 1.0), rng.uniform(0.5, 0.85)], np.float32)
        frame = np.clip(frame * gains + 0.5, 0, 255).astype(np.uint8)
    return frame


def _to_uint8(inputs: np.ndarray) -> np.ndarray:
    return (np.clip(inputs, 0, 1) * 255 + 0.5).astype(np.uint8)


def _expand(box: Sequence[float], margin: float) -> tuple[float, float, float, float]:
    return (box[0] - margin, box[1] - margin, box[2] + margin, box[3] + margin)


def frame_examples(
    photo: np.ndarray,
    seed: Sequence[int],
    flame: bool,
    image_size: int = IMAGE_SIZE,
    max_positives: int = 3,
    negatives: int = 2,
) -> list[tuple[str, np.ndarray]]:
    """(label, uint8 [S, S, 3]) region examples of one frame made from `photo` (deterministic per seed).

    With `flame`, a procedural flame is pasted and up to `max_positives` regions holding it are fire
    examples, plus `negatives` regions away from it; without, `negatives + 2` regions of the clear frame."""
    from firewatch.core.regions import RegionConfig, intersection, plan_regions, region_inputs
    from model.data.composite import composite_flame, random_placement

    rng = np.random.default_rng(list(seed))
    frame = _frame(rng, photo)
    frame_h, frame_w = frame.shape[:2]
    regions = plan_regions(frame_w, frame_h, image_size, RegionConfig())
    boxes = [r.box(frame_w, frame_h) for r in regions]
    chosen: list[tuple[str, int]] = []
    if flame:
        height = float(np.exp(rng.uniform(np.log(HEIGHT_RANGE[0]), np.log(HEIGHT_RANGE[1]))))
        x, base = random_placement(rng, height, frame_w / frame_h)
        lighting = float(rng.choice([1.0, 1.0, 0.8, 0.6, 0.4, 0.25]))
        comp = composite_flame(frame, [*seed, 1], height=height, x=x, base=base, lighting=lighting)
        frame, box = comp.pixels, comp.box
        area = (box[2] - box[0]) * (box[3] - box[1])
        positives = [
            i
            for i, (r, b) in enumerate(zip(regions, boxes, strict=True))
            if intersection(b, box) >= POSITIVE_COVER * area
            and height * frame_h * image_size / (r.y1 - r.y0) >= MIN_FLAME_PX
        ]
        if len(positives) > max_positives:
            positives = sorted(rng.choice(positives, max_positives, replace=False).tolist())
        away = _expand(box, GLOW_MARGIN * height)
        far = [i for i, b in enumerate(boxes) if intersection(b, away) == 0.0]
        chosen += [("fire", i) for i in positives]
        count = negatives
    else:
        far = list(range(len(regions)))
        count = negatives + 2
    if far:
        picks = rng.choice(far, min(count, len(far)), replace=False)
        chosen += [("no_fire", int(i)) for i in sorted(picks)]
    if not chosen:
        return []
    inputs = region_inputs(frame, [regions[i] for _, i in chosen], image_size)
    return [(label, pixels) for (label, _), pixels in zip(chosen, _to_uint8(inputs), strict=True)]


def _photo_examples(args: tuple[str, int, int, float, int, str]) -> dict[str, int]:
    path, index, frames, flame_share, seed, out = args
    with Image.open(path) as image:
        photo = np.asarray(image.convert("RGB"))
    counts = {"fire": 0, "no_fire": 0}
    stem = Path(path).stem
    for k in range(frames):
        flame = bool(np.random.default_rng([seed, index, k, 99]).random() < flame_share)
        for j, (label, pixels) in enumerate(frame_examples(photo, [seed, index, k], flame)):
            Image.fromarray(pixels).save(Path(out) / label / f"region-{stem}-{k:03d}-{j}.jpg", quality=95)
            counts[label] += 1
    return counts


def write_region_examples(
    photos_dir: str | Path,
    out_dir: str | Path,
    frames_per_photo: int,
    flame_share: float = 0.7,
    seed: int = 0,
    workers: int | None = None,
) -> dict[str, int]:
    """Region examples from every photo of photos_dir (the TRAIN part) as OUT/{fire,no_fire}/region-*.jpg."""
    out = Path(out_dir)
    for label in ("fire", "no_fire"):
        (out / label).mkdir(parents=True, exist_ok=True)
    paths = sorted(Path(photos_dir).glob("*.jpg"))
    jobs = [(str(p), i, frames_per_photo, flame_share, seed, str(out)) for i, p in enumerate(paths)]
    workers = workers or min(2, os.cpu_count() or 1)
    if workers > 1 and len(jobs) > 1:
        # spawn: the workers import TensorFlow themselves (region_inputs), never a forked copy
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            results = list(pool.map(_photo_examples, jobs))
    else:
        results = [_photo_examples(job) for job in jobs]
    return {label: sum(r[label] for r in results) for label in ("fire", "no_fire")}


def clear_frame_regions(photos_dir: str | Path, frames_per_photo: int, seed: int):
    """(regions, model inputs) of clear frames made from every photo of photos_dir (the TRAIN part):
    random frame size, crop, mirror, colour cast and, for half of them, a darker exposure."""
    from firewatch.core.regions import RegionConfig, plan_regions, region_inputs

    for index, path in enumerate(sorted(Path(photos_dir).glob("*.jpg"))):
        with Image.open(path) as image:
            photo = np.asarray(image.convert("RGB"))
        for k in range(frames_per_photo):
            rng = np.random.default_rng([seed, index, k, 7])
            frame = _frame(rng, photo)
            if rng.random() < 0.5:
                frame = np.clip(frame.astype(np.float32) * rng.uniform(0.3, 0.8) + 0.5, 0, 255).astype(np.uint8)
            regions = plan_regions(frame.shape[1], frame.shape[0], IMAGE_SIZE, RegionConfig())
            yield regions, region_inputs(frame, regions, IMAGE_SIZE)


def _predict(model, inputs: np.ndarray, batch_size: int = 128) -> np.ndarray:
    return np.concatenate(
        [
            np.asarray(model(inputs[i : i + batch_size], training=False)).reshape(-1)
            for i in range(0, len(inputs), batch_size)
        ]
    )


def mine_hard_negatives(
    model,
    photos_dir: str | Path,
    frames_per_photo: int = 4,
    top: int = 300,
    seed: int = 0,
) -> tuple[list[bytes], dict]:
    """The `top` regions a trained Keras model scores highest among ALL regions of clear frames made from
    the TRAIN photos (its false alarms, or nearest to them), JPEG-encoded, and a summary."""
    scored: list[tuple[float, bytes]] = []
    total = 0
    for regions, inputs in clear_frame_regions(photos_dir, frames_per_photo, seed):
        probs = _predict(model, inputs)
        total += len(regions)
        for i in np.argsort(-probs)[:top]:
            scored.append((float(probs[i]), _jpeg(_to_uint8(inputs[i]))))
        scored = sorted(scored, key=lambda t: -t[0])[:top]
    probs_kept = [p for p, _ in scored]
    summary = {
        "regions_scored": total,
        "kept": len(scored),
        "kept_probability_min_max": [min(probs_kept), max(probs_kept)] if probs_kept else None,
    }
    return [data for _, data in scored], summary


def clear_frame_maxima(model, photos_dir: str | Path, frames_per_photo: int = 2, seed: int = 1) -> np.ndarray:
    """A frame's probability (the maximum over its regions, as serving computes it) for clear frames made
    from the TRAIN photos, with other crops and exposures than mining's (another seed)."""
    return np.array(
        [float(_predict(model, inputs).max()) for _, inputs in clear_frame_regions(photos_dir, frames_per_photo, seed)]
    )


def frame_threshold(
    frame_maxima: np.ndarray,
    valid_labels: np.ndarray,
    valid_probs: np.ndarray,
    flagged: float,
    low_recall: float,
    high_recall: float,
) -> tuple[float, dict]:
    """The threshold for region scoring: the one that flags `flagged` of the clear train frames, but never
    below the valid threshold for `high_recall` (the usual one) nor above the one for `low_recall`."""
    from model.metrics import choose_threshold

    low = choose_threshold(valid_labels, valid_probs, high_recall)
    high = max(low, choose_threshold(valid_labels, valid_probs, low_recall))
    wanted = float(np.quantile(frame_maxima, 1.0 - flagged)) + 1e-6 if len(frame_maxima) else low
    threshold = float(min(max(wanted, low), high))
    return threshold, {
        "rule": f"flag <= {flagged:.0%} of clear train frames (region maximum), within the valid thresholds for "
        f"recall {high_recall} (lowest) and {low_recall} (highest)",
        "clear_train_frames": len(frame_maxima),
        "for_clear_frames": wanted,
        "valid_floor": float(low),
        "valid_ceiling": float(high),
        "threshold": threshold,
        "clear_train_frames_flagged": float(np.mean(frame_maxima >= threshold)) if len(frame_maxima) else None,
    }


def _jpeg(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=95)
    return buf.getvalue()
