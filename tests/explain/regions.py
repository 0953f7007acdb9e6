"""Scoring a region box against a drawn flame mask, and the same score for random boxes (chance)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# A box "hits" the flame when it holds at least this share of the flame's pixels, or when at
# least this share of the box is flame (a box on one of several flames). Large boxes hit more
# easily: the same rule applied to every placement of a box of the same size gives the chance rate.
MIN_FLAME_COVERED = 0.25
MIN_BOX_PRECISION = 0.5


def _box_pixels(region: Sequence[float], height: int, width: int) -> tuple[int, int, int, int]:
    x_min, y_min, x_max, y_max = (float(v) for v in region[:4])
    x0, y0 = int(round(x_min * width)), int(round(y_min * height))
    x1, y1 = max(int(round(x_max * width)), x0 + 1), max(int(round(y_max * height)), y0 + 1)
    return x0, y0, x1, y1


def _scores(inside: np.ndarray, flame: int, area: np.ndarray) -> np.ndarray:
    return (inside >= MIN_FLAME_COVERED * flame) | (inside >= MIN_BOX_PRECISION * area)


def box_hit(region: Sequence[float], mask: np.ndarray) -> bool:
    height, width = mask.shape
    x0, y0, x1, y1 = _box_pixels(region, height, width)
    inside = int(mask[y0:y1, x0:x1].sum())
    return bool(_scores(np.array(inside), int(mask.sum()), np.array((x1 - x0) * (y1 - y0))))


def chance_hit_rate(region: Sequence[float], mask: np.ndarray) -> float:
    """Share of all placements of a box of the same size that would hit (exact, via an integral image)."""
    height, width = mask.shape
    x0, y0, x1, y1 = _box_pixels(region, height, width)
    bw, bh = x1 - x0, y1 - y0
    integral = np.pad(mask.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    inside = (
        integral[bh:, bw:] - integral[:-bh, bw:] - integral[bh:, :-bw] + integral[:-bh, :-bw]
    )  # [height - bh + 1, width - bw + 1]: flame pixels in each placement
    hits = _scores(inside, int(mask.sum()), np.full(inside.shape, bw * bh))
    return float(hits.mean())
