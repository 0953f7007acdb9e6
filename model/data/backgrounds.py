"""Backgrounds for the procedural demo data: noise, gradients, skies, walls, forests, night
scenes, sunsets and bundled scikit-image photos and textures (`model.data.synth` draws fire and
distractors over them).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
from PIL import Image

SKIMAGE_PHOTOS = (
    "coffee",
    "chelsea",
    "astronaut",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "colorwheel",
    "cat",
)
SKIMAGE_TEXTURES = ("brick", "grass", "gravel", "camera", "coins")

Rng = np.random.Generator


# ---------------------------------------------------------------- primitives


def fractal_noise(
    rng: Rng, h: int, w: int, octaves: int = 4, base: int = 4, persistence: float = 0.55, stretch_y: float = 1.0
) -> np.ndarray:
    """Smooth value noise in [0, 1], shape (h, w). stretch_y > 1 elongates features vertically."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        gx = max(2, int(base * 2**o))
        gy = max(2, int(base * 2**o / stretch_y))
        grid = rng.random((gy + 1, gx + 1)).astype(np.float32)
        out += amp * np.asarray(Image.fromarray(grid, mode="F").resize((w, h), Image.BILINEAR))
        total += amp
        amp *= persistence
    out /= total
    lo, hi = out.min(), out.max()
    return (out - lo) / (hi - lo + 1e-6)


def grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return yy, xx


def blend(img: np.ndarray, color: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha[..., None]
    return img * (1 - a) + color * a


def _vertical_gradient(h: int, w: int, top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    return np.broadcast_to(top * (1 - t) + bottom * t, (h, w, 3)).copy()


@functools.cache
def _skimage_image(name: str) -> np.ndarray:
    from skimage import data

    img = np.asarray(getattr(data, name)())
    if img.ndim == 2:
        img = np.stack([img] * 3, -1)
    return img[..., :3].astype(np.float32) / 255.0


def _random_crop(rng: Rng, img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    side = int(min(h, w) * rng.uniform(0.45, 1.0))
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    crop = img[y : y + side, x : x + side]
    out = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize((size, size), Image.BILINEAR))
    out = out.astype(np.float32) / 255.0
    return out[:, ::-1] if rng.random() < 0.5 else out


# ---------------------------------------------------------------- backgrounds


def _bg_sky(rng: Rng, s: int) -> np.ndarray:
    top = rng.uniform([0.2, 0.4, 0.6], [0.5, 0.7, 1.0])
    bottom = rng.uniform([0.6, 0.7, 0.8], [0.9, 0.9, 1.0])
    img = _vertical_gradient(s, s, top, bottom)
    clouds = fractal_noise(rng, s, s, 4, 3)
    img = blend(img, np.ones(3, np.float32), np.clip(clouds - 0.5, 0, 1) * 1.2)
    return _add_ground(rng, img)


def _add_ground(rng: Rng, img: np.ndarray) -> np.ndarray:
    s = img.shape[0]
    horizon = rng.uniform(0.45, 0.85) * s
    yy, xx = grid(s, s)
    ridge = horizon + (fractal_noise(rng, 1, s, 3, 2)[0] - 0.5) * s * 0.25
    ground = rng.uniform([0.05, 0.1, 0.02], [0.35, 0.4, 0.25])
    tex = fractal_noise(rng, s, s, 5, 8)[..., None]
    mask = (yy > ridge[None, :]).astype(np.float32)
    return blend(img, ground * (0.6 + 0.8 * tex), mask)


def bg_wall(rng: Rng, s: int) -> np.ndarray:
    base = rng.uniform(0.25, 0.85, 3)
    tex = fractal_noise(rng, s, s, 5, 6)[..., None]
    img = base * (0.75 + 0.5 * tex)
    if rng.random() < 0.5:  # planks / bricks
        yy, xx = grid(s, s)
        period = rng.uniform(12, 40)
        lines = (np.mod(yy, period) < 2).astype(np.float32) * 0.35
        img = img * (1 - lines[..., None])
    return img


def bg_night(rng: Rng, s: int) -> np.ndarray:
    img = _vertical_gradient(s, s, rng.uniform(0.0, 0.08, 3), rng.uniform(0.02, 0.15, 3))
    return _add_ground(rng, img) * rng.uniform(0.3, 0.8)


def _bg_forest(rng: Rng, s: int) -> np.ndarray:
    base = rng.uniform([0.05, 0.15, 0.02], [0.25, 0.45, 0.15])
    tex = fractal_noise(rng, s, s, 5, 10, stretch_y=2.0)[..., None]
    return base * (0.4 + 1.2 * tex)


def bg_photo(rng: Rng, s: int) -> np.ndarray:
    name = SKIMAGE_PHOTOS[rng.integers(len(SKIMAGE_PHOTOS))]
    img = _random_crop(rng, _skimage_image(name), s)
    return img * rng.uniform(0.6, 1.1)


def _bg_texture(rng: Rng, s: int) -> np.ndarray:
    name = SKIMAGE_TEXTURES[rng.integers(len(SKIMAGE_TEXTURES))]
    img = _random_crop(rng, _skimage_image(name), s)
    return img * rng.uniform(0.5, 1.0, 3)


def bg_sunset(rng: Rng, s: int) -> np.ndarray:
    top = rng.uniform([0.2, 0.05, 0.2], [0.5, 0.2, 0.5])
    mid = rng.uniform([0.85, 0.35, 0.05], [1.0, 0.6, 0.25])
    t = np.linspace(0, 1, s, dtype=np.float32)[:, None, None]
    img = np.broadcast_to(top * (1 - t) + mid * t, (s, s, 3)).copy()
    yy, xx = grid(s, s)
    cy, cx, r = rng.uniform(0.4, 0.75) * s, rng.uniform(0.15, 0.85) * s, rng.uniform(0.05, 0.14) * s
    d = np.hypot(yy - cy, xx - cx)
    sun_col = np.array([1.0, rng.uniform(0.75, 0.95), rng.uniform(0.4, 0.7)], np.float32)
    img = blend(img, sun_col, np.clip((r - d) / 2, 0, 1))
    img = img + np.exp(-((d / (r * 3)) ** 2))[..., None] * np.array([0.35, 0.15, 0.0], np.float32)
    streaks = fractal_noise(rng, s, s, 3, 4, stretch_y=0.15)
    img = blend(img, np.array([0.9, 0.4, 0.3], np.float32), np.clip(streaks - 0.6, 0, 1))
    dark = np.array([0.02, 0.02, 0.04], np.float32)
    horizon = cy + r * rng.uniform(0.2, 1.5)
    ridge = horizon + (fractal_noise(rng, 1, s, 3, 3)[0] - 0.5) * s * 0.2
    return blend(img, dark, (yy > ridge[None, :]).astype(np.float32))


BACKGROUNDS: tuple[Callable[[Rng, int], np.ndarray], ...] = (
    _bg_sky,
    bg_wall,
    bg_night,
    _bg_forest,
    bg_photo,
    _bg_texture,
    bg_sunset,
)


def random_background(rng: Rng, size: int) -> np.ndarray:
    return np.clip(BACKGROUNDS[rng.integers(len(BACKGROUNDS))](rng, size), 0, 1).astype(np.float32)


# ---------------------------------------------------------------- flames
