"""Shadow scoring's rules, pure: which frames the `shadow` version also scores, and their rows.

A streaming job that follows a model registry (`firewatch stream --model-registry`) also scores a
share of its frames with the version the registry's `shadow` pointer names, into
`firewatch.shadow_predictions` (infra/schemas/shadow_predictions.json); those rows never reach
confirmation or alerts. The frames are chosen by a hash of the frame key (`shadow_selected`), so a
replayed or redelivered frame is chosen again, and `firewatch model compare` can tell which frames
both versions saw. The Beam wrapper is `firewatch.beam.shadow`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from firewatch.core.prediction import ScoredFrame, label_for
from firewatch.core.regions import WHOLE_FRAME, Region, summarise
from firewatch.core.rows import box_record, rfc3339

_SALT = b"firewatch-shadow|"  # not the explanation sample's hash: the two samples are independent


def shadow_value(frame_key: str) -> float:
    """A deterministic uniform value in [0, 1) for a frame key."""
    return int.from_bytes(hashlib.sha256(_SALT + frame_key.encode("utf-8")).digest()[:8], "big") / 2.0**64


def shadow_selected(frame_key: str, share: float) -> bool:
    """Whether the shadow version also scores this frame: `share` of the frames (0: none, 1: all)."""
    return share > 0 and (share >= 1 or shadow_value(frame_key) < share)


@dataclass(frozen=True)
class ShadowFrame:
    """What the shadow branch keeps of a frame scored by the main path (no image bytes: the branch
    may be shuffled to its own stage), with the version that scored it there."""

    frame_key: str
    camera_id: str
    frame_id: str | None
    captured_at: datetime | None
    message_id: str | None
    width: int
    height: int
    regions: tuple[Region, ...]
    current_model_version: str | None
    mode: str

    @classmethod
    def of(cls, frame: ScoredFrame, current_model_version: str | None, mode: str) -> ShadowFrame:
        request = frame.request
        return cls(
            frame_key=frame.key,
            camera_id=request.camera_id,
            frame_id=request.frame_id,
            captured_at=request.event_time,
            message_id=request.message_id,
            width=frame.width,
            height=frame.height,
            regions=tuple(frame.regions),
            current_model_version=current_model_version,
            mode=mode,
        )


def shadow_row(
    frame: ShadowFrame,
    probabilities: Sequence[float] | np.ndarray,
    *,
    model_version: str,
    threshold: float,
    scored_at: datetime,
    max_boxes: int,
    fire_maps: np.ndarray | None = None,
) -> dict[str, Any]:
    """One shadow_predictions row: the frame's regions summarised (`firewatch.core.regions.summarise`,
    as the main path does) at the shadow version's own threshold (no night threshold, no baselines)."""
    width, height = max(frame.width, 1), max(frame.height, 1)
    regions = frame.regions or (Region(0, 0, width, height, WHOLE_FRAME),)
    scores = summarise(regions, probabilities, threshold, width, height, max_boxes, fire_maps)
    return {
        "frame_key": frame.frame_key,
        "camera_id": frame.camera_id,
        "frame_id": frame.frame_id,
        "captured_at": rfc3339(frame.captured_at),
        "scored_at": rfc3339(scored_at),
        "model_version": model_version,
        "current_model_version": frame.current_model_version,
        "fire_probability": scores.probability,
        "label": label_for(scores.probability, scores.threshold),
        "threshold": float(threshold),
        "fire_boxes": [box_record(b.box, b.probability) for b in scores.boxes],
        "regions_scored": scores.regions_scored,
        "message_id": frame.message_id,
        "mode": frame.mode,
    }


def shadow_row_id(row: dict[str, Any]) -> str:
    """The row's BigQuery insertId: a redelivered frame scored again by the same version is one row."""
    text = "|".join(("shadow", row["frame_key"], row["model_version"], str(row.get("message_id"))))
    return hashlib.sha256(text.encode()).hexdigest()[:32]
