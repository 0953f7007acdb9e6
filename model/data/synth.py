"""Deterministic procedural demo data: synthetic fire frames and hard negatives.

This is *synthetic* data so the demo runs offline without any data set download; a model
trained on it learns "procedural flame vs. warm-coloured distractor", not real fire. To
train on real images, lay them out as `ROOT/fire/*.jpg` and `ROOT/no_fire/*.jpg` and use
the same ingest command.

* Fire frames: 1-3 flame clusters, each a few tapering tongues made of turbulent noise
  stretched upwards, coloured with a fire colour map (white-yellow core, orange-red edges),
  plus an additive glow and optional smoke, over varied backgrounds (skies, walls, forests,
  night scenes, sunsets, bundled scikit-image photos).
* Hard negatives: the same backgrounds without fire, orange/red objects, sunsets, warm
  lights at night, indoor lamps, skin, rust textures and scikit-image photos (coffee,
  chelsea, astronaut, rocket, retina, ...) with warm colour shifts.

Every image is generated from `numpy.random.default_rng([seed, index])`, so the data set
is bit-for-bit reproducible and can be generated in parallel.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from model.data.backgrounds import (
    Rng,
    bg_night,
    bg_photo,
    bg_sunset,
    bg_wall,
    blend,
    fractal_noise,
    grid,
    random_background,
)

DEFAULT_SIZE = 192
SUMMARY_NAME = "synth_summary.json"  # written at OUT/; ingest skips it
LABELS = ("no_fire", "fire")


def fire_colormap(t: np.ndarray, hue_shift: float = 0.0) -> np.ndarray:
    """Intensity in [0, 1] -> RGB: deep red -> orange -> yellow -> white core."""
    t = np.clip(t, 0, 1)[..., None]
    stops = np.array([0.0, 0.3, 0.55, 0.8, 1.0], np.float32)
    colors = np.array(
        [
            [0.45, 0.02, 0.0],
            [0.85, 0.18 + hue_shift, 0.0],
            [1.0, 0.5 + hue_shift, 0.05],
            [1.0, 0.85, 0.35],
            [1.0, 1.0, 0.9],
        ],
        np.float32,
    )
    out = np.empty(t.shape[:-1] + (3,), np.float32)
    for c in range(3):
        out[..., c] = np.interp(t[..., 0], stops, colors[:, c])
    return out


def flame_intensity(rng: Rng, s: int, cx: float, base_y: float, width: float, height: float) -> np.ndarray:
    """One cluster of tapering turbulent tongues; returns intensity in [0, 1], shape (s, s)."""
    yy, xx = grid(s, s)
    total = np.zeros((s, s), np.float32)
    tongues = int(rng.integers(1, 5))
    turb = fractal_noise(rng, s, s, 4, 5, stretch_y=3.0)
    warp = fractal_noise(rng, s, s, 3, 3, stretch_y=2.0) - 0.5
    for _ in range(tongues):
        tx = cx + rng.normal(0, width * 0.25)
        th = height * rng.uniform(0.5, 1.0)
        tw = width * rng.uniform(0.35, 0.7)
        t = (base_y - yy) / th  # 0 at base, 1 at tip
        sway = warp * tw * 2.5 * np.clip(t, 0, 1) + rng.normal(0, 0.3) * tw * t**2
        half_w = tw * np.clip(1 - t, 0, 1) ** rng.uniform(0.6, 1.1) * (0.6 + 0.6 * np.sqrt(np.clip(t, 0, 1)))
        dx = np.abs(xx - tx - sway) / (half_w + 1e-3)
        env = np.clip(1 - dx**2, 0, 1) * (t > -0.08) * (t < 1.0)
        env *= np.clip((t + 0.08) / 0.15, 0, 1)  # rounded base
        total = np.maximum(total, env * np.clip(1.15 - t * 0.6, 0, 1))
    intensity = total * (0.55 + 0.75 * turb)
    return np.clip(intensity, 0, 1)


def render_fire_frame(rng: Rng, size: int = DEFAULT_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Return (uint8 HxWx3 frame with visible flames, bool HxW flame mask)."""
    s = size
    img = random_background(rng, s)
    if rng.random() < 0.3:  # dusk/night scenes make flames stand out; vary the exposure
        img *= rng.uniform(0.3, 0.7)
    intensity = np.zeros((s, s), np.float32)
    for _ in range(int(rng.choice([1, 1, 1, 2, 3]))):
        width = s * rng.uniform(0.08, 0.3)
        height = width * rng.uniform(1.5, 3.0)
        cx = rng.uniform(0.15, 0.85) * s
        base_y = rng.uniform(0.45, 0.95) * s
        base_y = max(base_y, min(height * 0.9, s * 0.95))
        intensity = np.maximum(intensity, flame_intensity(rng, s, cx, base_y, width, height))
    if rng.random() < 0.5:  # smoke above the flames
        smoke_src = ndimage.shift(ndimage.gaussian_filter(intensity, 3), (-s * rng.uniform(0.1, 0.25), 0), order=1)
        smoke = np.clip(smoke_src * 3, 0, 1) * fractal_noise(rng, s, s, 4, 5, stretch_y=1.5)
        smoke = ndimage.gaussian_filter(smoke, s / 40) * rng.uniform(0.4, 0.9)
        gray = rng.uniform(0.25, 0.6)
        img = blend(img, np.full(3, gray, np.float32), np.clip(smoke * 1.5, 0, 0.85))
    glow = ndimage.gaussian_filter(intensity, s * rng.uniform(0.03, 0.08))
    img = img + glow[..., None] * np.array([1.0, 0.45, 0.08], np.float32) * rng.uniform(0.5, 1.3)
    hue = rng.uniform(-0.08, 0.12)
    color = fire_colormap(intensity ** rng.uniform(0.8, 1.3), hue)
    alpha = np.clip(intensity * 2.2, 0, 1)
    img = blend(img, color, alpha)
    img = img * rng.uniform(0.85, 1.1) + rng.normal(0, 0.015, img.shape).astype(np.float32)
    mask = intensity > 0.25
    return _to_uint8(img), mask


# ---------------------------------------------------------------- hard negatives


def _neg_objects(rng: Rng, s: int) -> np.ndarray:
    """Orange/red objects: cones, balls, signs, cars, jackets (flat or shaded shapes)."""
    img = random_background(rng, s)
    yy, xx = grid(s, s)
    for _ in range(int(rng.integers(1, 4))):
        col = np.array([rng.uniform(0.75, 1.0), rng.uniform(0.1, 0.6), rng.uniform(0.0, 0.15)], np.float32)
        cy, cx = rng.uniform(0.2, 0.9) * s, rng.uniform(0.1, 0.9) * s
        r = rng.uniform(0.06, 0.25) * s
        kind = rng.integers(4)
        if kind == 0:  # ball / lamp shade
            m = np.hypot(yy - cy, (xx - cx) * rng.uniform(0.6, 1.4)) < r
        elif kind == 1:  # traffic cone (triangle)
            t = (yy - (cy - r * 1.5)) / (r * 2)
            m = (t > 0) & (t < 1) & (np.abs(xx - cx) < t * r * 0.7)
        elif kind == 2:  # box / sign / car body
            m = (np.abs(yy - cy) < r * rng.uniform(0.3, 1.0)) & (np.abs(xx - cx) < r * rng.uniform(0.6, 1.6))
        else:  # irregular blob (jacket, leaves)
            n = fractal_noise(rng, s, s, 3, 3)
            m = np.hypot(yy - cy, xx - cx) < r * (0.6 + n)
        shade = 0.6 + 0.5 * fractal_noise(rng, s, s, 2, 2)[..., None]
        if rng.random() < 0.4:  # specular highlight
            shade = shade + 0.6 * np.exp(-((yy - cy + r / 2) ** 2 + (xx - cx) ** 2) / (r * 0.3) ** 2)[..., None]
        img = np.where(m[..., None], col * shade, img)
    return img


def _neg_warm_lights(rng: Rng, s: int) -> np.ndarray:
    """Night scene with street lamps, windows and bulbs glowing yellow-orange."""
    img = bg_night(rng, s)
    yy, xx = grid(s, s)
    light = np.zeros((s, s), np.float32)
    for _ in range(int(rng.integers(2, 9))):
        cy, cx = rng.uniform(0.05, 0.9) * s, rng.uniform(0.05, 0.95) * s
        if rng.random() < 0.5:  # round bulb
            r = rng.uniform(0.01, 0.05) * s
            light += np.exp(-((np.hypot(yy - cy, xx - cx) / r) ** 2))
        else:  # lit window
            hh, ww = rng.uniform(0.03, 0.12, 2) * s
            light += ((np.abs(yy - cy) < hh) & (np.abs(xx - cx) < ww)).astype(np.float32) * rng.uniform(0.5, 1)
    glow = ndimage.gaussian_filter(light, s * rng.uniform(0.02, 0.06)) * rng.uniform(1.5, 4)
    warm = np.array([1.0, rng.uniform(0.55, 0.85), rng.uniform(0.15, 0.45)], np.float32)
    img = img + glow[..., None] * warm * 0.8
    return blend(img, np.minimum(warm + 0.2, 1), np.clip(light, 0, 1))


def _neg_rust(rng: Rng, s: int) -> np.ndarray:
    n1 = fractal_noise(rng, s, s, 6, 4)
    n2 = fractal_noise(rng, s, s, 5, 12)
    rust = np.array([rng.uniform(0.45, 0.75), rng.uniform(0.18, 0.35), rng.uniform(0.03, 0.12)], np.float32)
    metal = rng.uniform(0.3, 0.6) * np.array([1, 1, 1.05], np.float32)
    mask = np.clip((n1 - rng.uniform(0.25, 0.6)) * 4, 0, 1)
    return blend(metal * (0.8 + 0.4 * n2[..., None]), rust * (0.6 + 0.8 * n2[..., None]), mask)


def _neg_photo(rng: Rng, s: int) -> np.ndarray:
    img = bg_photo(rng, s)
    if rng.random() < 0.5:  # warm colour cast (tungsten light, golden hour)
        img = img * np.array([rng.uniform(1.0, 1.3), rng.uniform(0.85, 1.0), rng.uniform(0.5, 0.85)], np.float32)
    return img


def _neg_skin(rng: Rng, s: int) -> np.ndarray:
    """Skin: faces, arms and hands as smooth shaded skin-tone shapes (pink to brown) over a background."""
    img = random_background(rng, s)
    yy, xx = grid(s, s)
    for _ in range(int(rng.integers(1, 4))):
        tone = rng.uniform(0.25, 1.0)
        col = np.array([0.45 + 0.5 * tone, 0.28 + 0.45 * tone, 0.2 + 0.38 * tone], np.float32)
        col *= np.array([1.0, rng.uniform(0.9, 1.05), rng.uniform(0.85, 1.05)], np.float32)
        cy, cx = rng.uniform(0.2, 0.9) * s, rng.uniform(0.1, 0.9) * s
        ry, rx = rng.uniform(0.12, 0.45) * s, rng.uniform(0.08, 0.3) * s
        d = np.hypot((yy - cy) / ry, (xx - cx) / rx)
        shade = 0.75 + 0.35 * (1 - np.clip(d, 0, 1)) + 0.1 * fractal_noise(rng, s, s, 3, 4)
        img = np.where((d < 1)[..., None], col * shade[..., None], img)
    return img


def _neg_lamp(rng: Rng, s: int) -> np.ndarray:
    """Indoor lamps and candle-less warm light: a bright yellow-white bulb in a soft orange glow on a dim room."""
    img = blend(bg_wall(rng, s), np.zeros(3, np.float32), np.full((s, s), rng.uniform(0.2, 0.7), np.float32))
    yy, xx = grid(s, s)
    for _ in range(int(rng.integers(1, 3))):
        cy, cx = rng.uniform(0.15, 0.8) * s, rng.uniform(0.15, 0.85) * s
        r = rng.uniform(0.03, 0.12) * s
        d = np.hypot((yy - cy) / rng.uniform(0.7, 1.4), xx - cx)
        core = np.clip(1.2 - d / r, 0, 1)
        glow = np.exp(-((d / (r * rng.uniform(2.5, 6))) ** 2)) * rng.uniform(0.5, 1.0)
        warm = np.array([1.0, rng.uniform(0.5, 0.8), rng.uniform(0.1, 0.35)], np.float32)
        img = img + glow[..., None] * warm
        img = blend(img, np.array([1.0, 0.97, 0.85], np.float32), core)
        if rng.random() < 0.6:  # lamp shade: a lit trapezoid above the bulb
            t = (yy - (cy - 2.5 * r)) / (2 * r)
            shade = (t > 0) & (t < 1) & (np.abs(xx - cx) < r * (1.2 + t))
            img = np.where(shade[..., None], warm * rng.uniform(0.7, 1.0), img)
    return img


NEGATIVES: tuple[Callable[[Rng, int], np.ndarray], ...] = (
    random_background,
    _neg_objects,
    _neg_objects,
    bg_sunset,
    _neg_warm_lights,
    _neg_rust,
    _neg_photo,
    _neg_skin,
    _neg_lamp,
)


def render_negative_frame(rng: Rng, size: int = DEFAULT_SIZE) -> np.ndarray:
    """Return a uint8 HxWx3 frame with no flame: background or warm-coloured distractor."""
    img = NEGATIVES[rng.integers(len(NEGATIVES))](rng, size)
    img = img * rng.uniform(0.85, 1.1) + rng.normal(0, 0.015, img.shape).astype(np.float32)
    return _to_uint8(img)


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


# ---------------------------------------------------------------- data set


def render_example(seed: int, index: int, size: int = DEFAULT_SIZE) -> tuple[str, np.ndarray]:
    """Deterministic (label, pixels) for example `index`; even indices are fire."""
    rng = np.random.default_rng([seed, index])
    if index % 2 == 0:
        return "fire", render_fire_frame(rng, size)[0]
    return "no_fire", render_negative_frame(rng, size)


def encode(pixels: np.ndarray, fmt: str = "jpeg", quality: int = 92) -> bytes:
    buf = io.BytesIO()
    if fmt == "jpeg":
        Image.fromarray(pixels).save(buf, format="JPEG", quality=quality)
    else:
        Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def _write_one(args: tuple[str, int, int, int, str]) -> str:
    out_dir, seed, index, size, fmt = args
    label, pixels = render_example(seed, index, size)
    ext = "jpg" if fmt == "jpeg" else "png"
    path = Path(out_dir) / label / f"synth-{seed}-{index:06d}.{ext}"
    path.write_bytes(encode(pixels, fmt))
    return label


def write_dataset(
    out_dir: str | Path,
    count: int,
    seed: int = 0,
    size: int = DEFAULT_SIZE,
    fmt: str = "jpeg",
    workers: int | None = None,
) -> dict:
    """Write `count` images as OUT/{fire,no_fire}/*.jpg (half each); return a summary dict."""
    out = Path(out_dir)
    for label in LABELS:
        (out / label).mkdir(parents=True, exist_ok=True)
    jobs = [(str(out), seed, i, size, fmt) for i in range(count)]
    workers = workers or min(4, os.cpu_count() or 1)
    if workers > 1 and count >= 64:
        with ProcessPoolExecutor(workers) as pool:
            labels = list(pool.map(_write_one, jobs, chunksize=32))
    else:
        labels = [_write_one(j) for j in jobs]
    summary = {
        "out_dir": str(out),
        "count": count,
        "seed": seed,
        "image_size": size,
        "format": fmt,
        "per_label": {label: labels.count(label) for label in LABELS},
        "data_description": "synthetic procedural demo data (not real fire photographs)",
    }
    (out / SUMMARY_NAME).write_text(json.dumps(summary, indent=2))
    return summary
