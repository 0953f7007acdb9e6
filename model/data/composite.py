"""Procedural flames pasted into real full-resolution photographs, with the flame's box.

The region training recipe (`model.data.regions_data`) and the small-fire benchmark
(`scripts/bench_small_fire.py`) both need frames where a flame of a *known* size sits at a
*known* place in a real scene. No fire photographs can be fetched in this project's environment,
so the flame is `model.data.synth`'s procedural one (turbulent noise tongues in a tapering envelope,
fire colour map, additive glow, optional smoke) and the scene is a real photograph without fire.
The positives are therefore procedural flames, not photographs of fire: figures measured on
them say so.

The flame is rendered once on a canonical square patch (`CANONICAL` px), measured there, and
resized so that its bounding box is exactly `height` of the frame's height (never upscaled
beyond what the canonical detail allows, so small flames are downscaled with antialiasing like a
camera would). The glow and smoke layers are resized with it. The result is
`Composite(pixels, box, ...)`, `box` = (x_min, y_min, x_max, y_max) as fractions of the frame,
origin top left (the `firewatch.core.regions` convention), clipped to the frame.

Pure and deterministic: everything random comes from `numpy.random.default_rng(seed)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from model.data.backgrounds import fractal_noise
from model.data.synth import fire_colormap, flame_intensity

CANONICAL = 320  # side of the patch a flame is rendered on before it is resized into the frame
FLAME_LEVEL = 0.25  # intensity above which a pixel counts as flame (as `model.data.synth`'s mask)
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Composite:
    """A frame with a pasted flame: uint8 pixels [H, W, 3] and where the flame is."""

    pixels: np.ndarray
    box: Box  # the flame's bounding box (pixels with intensity > FLAME_LEVEL), fractions of the frame
    height: float  # the requested flame height, a fraction of the frame's height
    smoke: bool


def fit_frame(
    photo: np.ndarray, width: int = 1920, height: int = 1080, focus: tuple[float, float] = (0.5, 0.5)
) -> np.ndarray:
    """The photo resized to cover width x height (aspect kept) and cropped there, uint8 [height, width, 3].

    `focus` (fractions) picks which part is kept when the aspect ratios differ (0.5, 0.5: the centre)."""
    image = Image.fromarray(np.asarray(photo, np.uint8)[..., :3])
    scale = max(width / image.width, height / image.height)
    size = (max(width, round(image.width * scale)), max(height, round(image.height * scale)))
    image = image.resize(size, Image.BICUBIC if scale > 1 else Image.LANCZOS)
    left = round((size[0] - width) * float(np.clip(focus[0], 0, 1)))
    top = round((size[1] - height) * float(np.clip(focus[1], 0, 1)))
    return np.asarray(image.crop((left, top, left + width, top + height)), np.uint8)


def _resize(layer: np.ndarray, height: int, width: int) -> np.ndarray:
    return np.asarray(Image.fromarray(layer.astype(np.float32), mode="F").resize((width, height), Image.BILINEAR))


def _flame_layers(rng: np.random.Generator, smoke: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(intensity, glow, smoke alpha) on the canonical patch, and the glow strength."""
    s = CANONICAL
    flame_h = 0.42 * s
    width = flame_h / rng.uniform(1.5, 3.0)
    intensity = flame_intensity(rng, s, s / 2, 0.72 * s, width, flame_h)
    if rng.random() < 0.3:  # a second, smaller cluster beside the first (a spreading fire)
        side = rng.choice([-1.0, 1.0]) * rng.uniform(0.2, 0.45) * flame_h
        extra = flame_intensity(rng, s, s / 2 + side, 0.72 * s, width * 0.7, flame_h * rng.uniform(0.4, 0.8))
        intensity = np.maximum(intensity, extra)
    glow = ndimage.gaussian_filter(intensity, s * rng.uniform(0.03, 0.07))
    smoke_alpha = np.zeros_like(intensity)
    if smoke:
        source = ndimage.shift(ndimage.gaussian_filter(intensity, 3), (-flame_h * rng.uniform(0.2, 0.5), 0), order=1)
        plume = np.clip(source * 3, 0, 1) * fractal_noise(rng, s, s, 4, 5, stretch_y=1.5)
        smoke_alpha = np.clip(ndimage.gaussian_filter(plume, s / 40) * rng.uniform(0.4, 0.9) * 1.5, 0, 0.85)
    return intensity, glow, smoke_alpha, float(rng.uniform(0.5, 1.3))


def composite_flame(
    photo: np.ndarray,
    seed: int | Sequence[int],
    *,
    height: float,
    x: float = 0.5,
    base: float = 0.8,
    lighting: float = 1.0,
    smoke: bool | None = None,
) -> Composite:
    """Paste a procedural flame into a copy of `photo` (uint8 [H, W, 3], any size; never modified).

    height: the flame's bounding-box height as a fraction of the frame's height (e.g. 0.03 .. 0.5).
    x, base: where the flame stands: the centre of its base, as fractions of the frame's width and
    height (origin top left). lighting: the scene's exposure (1: as photographed; 0.3: dusk; the
    flame itself is self-luminous and keeps its colours). smoke: a grey plume above the flame
    (None: decided by the seed, half the time)."""
    rng = np.random.default_rng(seed)
    photo = np.asarray(photo)[..., :3]
    if lighting == 1.0:
        out = np.array(photo, np.uint8, copy=True)
    else:
        out = np.clip(photo.astype(np.float32) * float(lighting) + 0.5, 0, 255).astype(np.uint8)
    frame_h, frame_w = out.shape[:2]
    if smoke is None:
        smoke = bool(rng.random() < 0.5)
    intensity, glow, smoke_alpha, glow_gain = _flame_layers(rng, smoke)
    rows = np.flatnonzero((intensity > FLAME_LEVEL).any(axis=1))
    cols = np.flatnonzero((intensity > FLAME_LEVEL).any(axis=0))
    if rows.size == 0:  # never seen; a flame too faint to measure has no box to report
        raise ValueError(f"seed {seed!r} rendered no visible flame")
    # scale: the measured flame (rows[0] .. rows[-1]) becomes height * frame_h pixels tall
    factor = height * frame_h / (rows[-1] + 1 - rows[0])
    side = max(2, round(CANONICAL * factor))
    # the canonical base centre (x = centre column, y = the flame's lowest row) goes to (x, base)
    anchor_x = (cols[0] + cols[-1] + 1) / 2 * factor
    anchor_y = (rows[-1] + 1) * factor
    left = round(x * frame_w - anchor_x)
    top = round(base * frame_h - anchor_y)
    layers = [_resize(layer, side, side) for layer in (intensity, glow, smoke_alpha)]
    # the part of the patch inside the frame
    fy0, fy1 = max(0, top), min(frame_h, top + side)
    fx0, fx1 = max(0, left), min(frame_w, left + side)
    if fy0 >= fy1 or fx0 >= fx1:
        raise ValueError(f"the flame at x={x}, base={base} lies outside the frame")
    py0, px0 = fy0 - top, fx0 - left
    inten, glow_p, smoke_p = (layer[py0 : py0 + fy1 - fy0, px0 : px0 + fx1 - fx0] for layer in layers)
    patch = out[fy0:fy1, fx0:fx1].astype(np.float32) / 255.0  # only the patch is blended in floats
    if smoke:
        grey = np.full(3, rng.uniform(0.25, 0.6), np.float32)
        patch = patch * (1 - smoke_p[..., None]) + grey * smoke_p[..., None]
    patch = patch + glow_p[..., None] * np.array([1.0, 0.45, 0.08], np.float32) * glow_gain
    colour = fire_colormap(inten ** rng.uniform(0.8, 1.3), rng.uniform(-0.08, 0.12))
    alpha = np.clip(inten * 2.2, 0, 1)[..., None]
    patch = patch * (1 - alpha) + colour * alpha
    patch = patch + rng.normal(0, 0.01, patch.shape).astype(np.float32) * (alpha > 0)
    out[fy0:fy1, fx0:fx1] = (np.clip(patch, 0, 1) * 255 + 0.5).astype(np.uint8)
    pixels = out
    # the box: the flame's rows/columns in frame pixels, clipped to the frame
    box = (
        max(0.0, float(left + cols[0] * factor) / frame_w),
        max(0.0, float(top + rows[0] * factor) / frame_h),
        min(1.0, float(left + (cols[-1] + 1) * factor) / frame_w),
        min(1.0, float(top + (rows[-1] + 1) * factor) / frame_h),
    )
    return Composite(pixels, box, float(height), smoke)


def random_placement(rng: np.random.Generator, height: float, aspect: float = 16 / 9) -> tuple[float, float]:
    """A (x, base) where a flame of this height stays inside a frame of this aspect ratio (width / height)."""
    half_width = height * 0.6 / aspect  # flames are at most ~1.2 x as wide as tall
    x = rng.uniform(min(0.5, 0.02 + half_width), max(0.5, 0.98 - half_width))
    base = rng.uniform(min(0.98, 0.02 + height * 1.05), 0.98)
    return float(x), float(base)
