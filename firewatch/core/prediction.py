"""The typed result of scoring one frame, as it travels between the pipeline's steps.

In the spirit of Beam's `PredictionResult`: `Prediction` holds typed values (datetimes, floats),
confirmation and explanation consume it directly, and it becomes a BigQuery row only at the
sink (`firewatch.core.rows.prediction_row`). Whether the frame is explained is decided once,
when the prediction is made (`explain`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from firewatch.core.contract import FrameRequest
from firewatch.core.frame_stats import FrameStats
from firewatch.core.regions import WHOLE_BOX, Box, FireBox, Region

FIRE = "fire"
NO_FIRE = "no_fire"


def frame_key(camera_id: str, frame_id: str | None, content_sha256: str) -> str:
    """Stable id of a frame: the same frame redelivered or re-sent gets the same key."""
    return f"{camera_id}/{frame_id}" if frame_id else f"{camera_id}/sha256:{content_sha256[:16]}"


def label_for(probability: float, threshold: float) -> str:
    """The model's decision rule: fire when the probability reaches the threshold."""
    return FIRE if probability >= threshold else NO_FIRE


@dataclass(frozen=True)
class ScoredFrame:
    """What a frame carries from decode to postprocess (no pixels: those travel separately)."""

    request: FrameRequest
    content_sha256: str
    width: int
    height: int
    mask_version: int | None = None  # the camera's exclusion mask blanked before scoring (None: no mask)
    regions: tuple[Region, ...] = ()  # the regions scored, in the order of the model input (empty: whole frame)
    stats: FrameStats | None = None  # brightness, contrast, detail, thumbnail (camera health, day/night)

    @property
    def key(self) -> str:
        return frame_key(self.request.camera_id, self.request.frame_id, self.content_sha256)


@dataclass(frozen=True)
class Prediction:
    """One scored frame. `captured_at` is the frame's event time (capture, else publish time)."""

    frame_key: str
    camera_id: str
    frame_id: str | None
    captured_at: datetime | None
    processed_at: datetime
    probability: float
    threshold: float
    model_version: str
    mode: str
    source_uri: str | None = None
    message_id: str | None = None
    publish_time: datetime | None = None
    content_sha256: str = ""
    width: int = 0
    height: int = 0
    explain: bool = False
    mask_version: int | None = None
    boxes: tuple[FireBox, ...] = ()  # the firing regions, most probable first (empty: nothing fired)
    regions_scored: int = 1  # regions of the frame the model scored (1: the whole frame only)
    peak_box: Box = WHOLE_BOX  # the region of the frame's maximum probability
    region_scores: tuple[tuple[str, float], ...] = ()  # (region key, probability) of the regions worth recording
    period: str | None = None  # "day" or "night", judged from the frame (firewatch.core.period); None: not judged
    stats: FrameStats | None = None  # the frame's statistics at decode (camera health)

    @property
    def label(self) -> str:
        return label_for(self.probability, self.threshold)

    @property
    def event_time(self) -> datetime:
        """When the frame was taken, else when it was processed (a frame always has a time)."""
        return self.captured_at or self.processed_at

    @property
    def latency_ms(self) -> float | None:
        """Publish -> processed, in milliseconds (None without a publish time, e.g. in batch)."""
        if self.publish_time is None:
            return None
        return round((self.processed_at - self.publish_time).total_seconds() * 1000.0, 3)

    @classmethod
    def of(
        cls,
        frame: ScoredFrame,
        probability: float,
        *,
        threshold: float,
        model_version: str,
        mode: str,
        processed_at: datetime,
        explain: bool = False,
        boxes: tuple[FireBox, ...] = (),
        regions_scored: int = 1,
        peak_box: Box = WHOLE_BOX,
        region_scores: tuple[tuple[str, float], ...] = (),
        period: str | None = None,
    ) -> Prediction:
        request = frame.request
        return cls(
            frame_key=frame.key,
            camera_id=request.camera_id,
            frame_id=request.frame_id,
            captured_at=request.event_time,
            processed_at=processed_at,
            probability=float(probability),
            threshold=float(threshold),
            model_version=model_version,
            mode=mode,
            source_uri=request.uri,
            message_id=request.message_id,
            publish_time=request.publish_time,
            content_sha256=frame.content_sha256,
            width=frame.width,
            height=frame.height,
            explain=explain,
            mask_version=frame.mask_version,
            boxes=boxes,
            regions_scored=regions_scored,
            peak_box=peak_box,
            region_scores=region_scores,
            period=period,
            stats=frame.stats,
        )
