"""Drift of a camera's frames against a reference (pure): image statistics, histograms, PSI.

Per frame: brightness (mean luma in [0, 1]) and colourfulness (Hasler & Süsstrunk, scaled to
about [0, 1]); per model: the fire probability. A reference (`DriftReference`, from the evaluation
images) holds each metric's bin proportions; a window of a camera's frames is compared with the
Population Stability Index, PSI = sum((cur - ref) * ln(cur / ref)) over bins (0.1 small, 0.25 large).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

METRICS = ("score", "brightness", "colourfulness")
BINS = 10
EPSILON = 1e-4


def image_stats(pixels: np.ndarray) -> dict[str, float]:
    """{"brightness", "colourfulness"} of an RGB uint8 image [H, W, 3]."""
    rgb = np.asarray(pixels, dtype=np.float64)
    if rgb.ndim != 3 or rgb.shape[2] < 3:
        raise ValueError(f"expected an RGB image [H, W, 3], got shape {rgb.shape}")
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    brightness = float((0.299 * r + 0.587 * g + 0.114 * b).mean() / 255.0)
    rg, yb = r - g, 0.5 * (r + g) - b
    colourfulness = math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean())
    return {"brightness": brightness, "colourfulness": float(min(colourfulness / 255.0, 1.0))}


def proportions(values: Sequence[float], bins: int = BINS) -> list[float]:
    """Share of `values` (in [0, 1]) in each of `bins` equal bins."""
    if len(values) == 0:
        raise ValueError("no values to bin")
    counts, _ = np.histogram(np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0), bins=bins, range=(0.0, 1.0))
    return (counts / counts.sum()).tolist()


def psi(reference: Sequence[float], current: Sequence[float]) -> float:
    """Population Stability Index between two bin-proportion lists (empty bins smoothed)."""
    if len(reference) != len(current):
        raise ValueError(f"bins differ: {len(reference)} reference vs {len(current)} current")
    ref = np.clip(np.asarray(reference, dtype=np.float64), EPSILON, None)
    cur = np.clip(np.asarray(current, dtype=np.float64), EPSILON, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


class DriftReference(BaseModel):
    """Bin proportions per metric of the reference set (written by `firewatch drift reference`)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_version: str
    frames: int = Field(gt=0)
    bins: int = Field(BINS, ge=2)
    proportions: dict[str, list[float]]

    def check(self) -> DriftReference:
        for metric in METRICS:
            if len(self.proportions.get(metric, [])) != self.bins:
                raise ValueError(f"reference lacks {self.bins} bins for {metric!r}")
        return self


def window_psi(reference: DriftReference, values: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """PSI per metric present in `values` (metrics with no values are left out)."""
    return {
        metric: psi(reference.proportions[metric], proportions(values[metric], reference.bins))
        for metric in METRICS
        if len(values.get(metric, ())) > 0
    }


def drifting_metrics(psis: Mapping[str, float], threshold: float) -> list[str]:
    return sorted(metric for metric, value in psis.items() if value > threshold)
