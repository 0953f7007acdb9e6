"""A simulated camera's light over the day (`model.evaluation.sequences` renders frames under it) and
the day/night period an hour falls in (`model.evaluation.sequence_report` counts alerts by it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Light:
    """A camera's light at an hour: exposure, colour gain (r, g, b), sensor noise (std, 0-255)."""

    exposure: float
    gain: tuple[float, float, float]
    noise: float
    lamp: bool  # a lamp in the scene is lit


def light_at(hour: int) -> Light:
    """Night 21-04h (dark, bluish, noisy, lamps lit), dawn 05-07h and dusk 17-20h (warm, low),
    day otherwise."""
    if hour >= 21 or hour <= 4:
        return Light(0.18, (0.9, 0.95, 1.1), 5.0, True)
    if hour <= 7 or hour >= 17:
        return Light(0.55, (1.15, 0.95, 0.7), 3.0, hour >= 19 or hour <= 5)
    return Light(1.0, (1.0, 1.0, 1.0), 2.0, False)


def period_of(hour: int) -> str:
    """`night` for the hours `light_at` makes dark (what the pipeline's `period` would judge), else `day`."""
    return "night" if light_at(hour).exposure < 0.25 else "day"
