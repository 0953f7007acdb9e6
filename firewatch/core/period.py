"""Day and night: each frame's period, judged from its brightness, and the night thresholds.

A frame is `night` when its brightness (`firewatch.core.frame_stats`, the mean gray level, 0-1)
is below `NightConfig.brightness`, else `day`; every prediction row records it (`period`). At night
a camera's frames are judged by a night threshold instead of the model's, when one is configured:
the camera's own (`camera_thresholds`, "camera=threshold" entries, as per-camera as masks are) or
the global `threshold`. Day frames are never affected. Baselines still raise a region's threshold
above its quiet-days scores, from whichever threshold the period gives.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from firewatch.core.frame_stats import NIGHT, FrameStats, period_of


class NightConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    brightness: float = Field(
        0.25, ge=0, le=1, description="a frame darker than this mean brightness (0-1) is a night frame"
    )
    threshold: float | None = Field(
        None, gt=0, le=1, description="probability that counts as fire at night (default: the model's threshold)"
    )
    camera_thresholds: tuple[str, ...] = Field(
        (), description="per-camera night thresholds as CAMERA=THRESHOLD entries; they win over night-threshold"
    )

    @field_validator("camera_thresholds")
    @classmethod
    def _entries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            camera, sep, number = entry.partition("=")
            try:
                ok = bool(sep and camera.strip()) and 0 < float(number) <= 1
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(f"{entry!r} is not CAMERA=THRESHOLD with a threshold in (0, 1]")
        return value

    def per_camera(self) -> dict[str, float]:
        return {c.strip(): float(t) for c, _, t in (e.partition("=") for e in self.camera_thresholds)}

    def period(self, stats: FrameStats | None) -> str | None:
        return period_of(stats, self.brightness)

    def threshold_for(self, camera_id: str, period: str | None, model_threshold: float) -> float:
        """The threshold a frame of this camera and period is judged by (before baselines)."""
        if period != NIGHT:
            return model_threshold
        own = self.per_camera().get(camera_id)
        if own is not None:
            return own
        return self.threshold if self.threshold is not None else model_threshold
