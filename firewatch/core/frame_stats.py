"""Cheap statistics of a decoded frame, computed once at decode and carried on the prediction.

They serve camera health (`firewatch.core.health`: frozen, blind, moved, night) and the day/night
period of each row (`period_of`). All values are fractions of the full 8-bit range (0..1), so the
thresholds in configuration do not depend on the image size:

Every statistic is taken on the frame reduced (by striding) to at most `DETAIL_SIDE` pixels on a
side, so a 4K frame costs what a small one does.

* `brightness`: mean of the grayscale frame;
* `contrast`: its standard deviation;
* `detail`: mean gradient magnitude (|dx| + |dy| between neighbouring pixels): edges and
  texture, which a black, white or fogged picture lacks and a dark night scene with lights or a lit road still has;
* `thumbnail`: a `THUMB_W` x `THUMB_H` grayscale thumbnail (block means, 0..255 as floats, row
  major), the picture's fingerprint for "the same picture again" and "a different scene".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

THUMB_W, THUMB_H = 32, 18
DETAIL_SIDE = 320
DAY, NIGHT = "day", "night"


@dataclass(frozen=True)
class FrameStats:
    brightness: float
    contrast: float
    detail: float
    thumbnail: tuple[float, ...]


def grayscale(pixels: np.ndarray) -> np.ndarray:
    """uint8 H x W x 3 (or H x W) -> float32 H x W luma (ITU-R BT.601 weights), 0..255."""
    if pixels.ndim == 2:
        return pixels.astype(np.float32)
    rgb = pixels[..., :3].astype(np.float32)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def frame_stats(pixels: np.ndarray) -> FrameStats:
    """The statistics of one decoded frame (uint8 H x W x 3)."""
    height, width = pixels.shape[:2]
    step = max(1, int(np.ceil(max(height, width) / DETAIL_SIDE)))
    gray = grayscale(pixels[::step, ::step])  # every statistic on the reduced frame: cheap at any size
    small = gray
    detail = (np.abs(np.diff(small, axis=1)).mean() + np.abs(np.diff(small, axis=0)).mean()) / 255.0
    thumb = Image.fromarray(np.clip(gray, 0, 255)).resize((THUMB_W, THUMB_H), Image.Resampling.BOX)
    return FrameStats(
        brightness=round(float(gray.mean()) / 255.0, 6),
        contrast=round(float(gray.std()) / 255.0, 6),
        detail=round(float(detail), 6),
        thumbnail=tuple(round(float(v), 3) for v in np.asarray(thumb, dtype=np.float32).ravel()),
    )


def thumbnail_difference(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Mean absolute difference of two thumbnails, in gray levels (0..255): ~0 for the same picture."""
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).mean())


def scene_distance(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """1 - the correlation of two thumbnails (0: the same scene, ~1: unrelated; 2: inverted).

    Correlation ignores a change of overall brightness or gain (clouds, exposure, dusk), so only
    a change of layout (the camera turned or knocked) moves it. Flat thumbnails are 0 apart."""
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    x, y = x - x.mean(), y - y.mean()
    norm = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return 0.0 if norm < 1e-9 else 1.0 - float((x * y).sum()) / norm


def period_of(stats: FrameStats | None, night_brightness: float) -> str | None:
    """ "night" when the frame's brightness is below `night_brightness`, else "day"; None without
    statistics (an engine that decodes in its own graph did not judge the frame: never a guess)."""
    if stats is None:
        return None
    return NIGHT if stats.brightness < night_brightness else DAY
