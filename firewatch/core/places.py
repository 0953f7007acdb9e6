"""Where a frame fires, and which fire frames are in the same place (`firewatch.core.confirm`).

A frame's **places** at a threshold are its fire boxes (`Prediction.boxes`, fractions of the frame)
whose probability reaches it; a frame without such a box that still counts as fire (a model or run
that scores the whole frame only, or a frame counted at the lower close threshold) is placed at its
`peak_box`, the whole frame when it has no regions. Two boxes are **near** when they intersect, or
touch, once each is grown by `place_margin` of the frame on every side (for x in frame widths, for y
in frame heights): their gaps along x and along y are both at most 2 * place_margin. Two frames fire
in the same place when a place of one is near a place of the other; the whole frame is near
everything, so whole-frame frames confirm as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from firewatch.core.confirm_config import ConfirmConfig
from firewatch.core.prediction import Prediction
from firewatch.core.regions import WHOLE_BOX, Box, FireBox


@dataclass(frozen=True, order=True)
class FrameObservation:
    captured_at: datetime
    frame_key: str
    probability: float
    threshold: float
    model_version: str
    uri: str | None = None
    explained: bool = False  # chosen for explanation when scored (its overlay will exist)
    # where it fired: the frame's fire boxes, most probable first, and the region of its maximum
    boxes: tuple[FireBox, ...] = field(default=(), compare=False)
    peak_box: Box = field(default=WHOLE_BOX, compare=False)

    @classmethod
    def of(cls, prediction: Prediction) -> FrameObservation:
        return cls(
            captured_at=prediction.event_time,
            frame_key=prediction.frame_key,
            probability=prediction.probability,
            threshold=prediction.threshold,
            model_version=prediction.model_version,
            uri=prediction.source_uri,
            explained=prediction.explain,
            boxes=tuple(prediction.boxes),
            peak_box=tuple(prediction.peak_box),
        )

    def places(self, threshold: float) -> tuple[Box, ...]:
        """Where the frame fires at `threshold`: its fire boxes that reach it, most probable first;
        else its peak box (the whole frame for a prediction without regions)."""
        return tuple(b.box for b in self.boxes if b.probability >= threshold) or (self.peak_box,)

    def best_box(self, threshold: float, place: Box | None, margin: float) -> Box | None:
        """The most probable fire box reaching `threshold` (near `place` when given); None when the
        frame has no fire box there (a whole-frame-only prediction)."""
        for b in self.boxes:
            if b.probability >= threshold and (place is None or near(b.box, place, margin)):
                return b.box
        return None if self.peak_box == WHOLE_BOX else self.peak_box


def near(a: Box, b: Box, margin: float) -> bool:
    """Whether two boxes intersect or touch once each is grown by `margin` on every side."""
    reach = 2.0 * margin
    return a[0] - reach <= b[2] and b[0] - reach <= a[2] and a[1] - reach <= b[3] and b[1] - reach <= a[3]


def bounding(boxes: list[Box] | tuple[Box, ...]) -> Box:
    """The smallest box holding all of `boxes`."""
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def largest_group(
    fire: list[FrameObservation], threshold: float, config: ConfirmConfig, taken: list[Box] | None = None
) -> tuple[list[FrameObservation], Box]:
    """The fire frames that open an alert, in time order, and their place.

    By place: for each anchor (a place of a fire frame, newest frame first, most probable box
    first), the fire frames with a place near it; the largest such group, the first anchor among
    equals. Its place: the bounding box of the anchor and the group's places near it. Places near
    an open alert's place (`taken`) are that alert's, not candidates. Not by place: every fire
    frame, and the whole frame."""
    if not config.by_place:
        return list(fire), WHOLE_BOX
    taken = taken or []
    places = {
        f.frame_key: [b for b in f.places(threshold) if not any(near(b, t, config.place_margin) for t in taken)]
        for f in fire
    }
    best: list[FrameObservation] = []
    best_place: Box = WHOLE_BOX
    for anchor_frame in reversed(fire):
        for anchor in places[anchor_frame.frame_key]:
            group, boxes = [], [anchor]
            for f in fire:
                matching = [b for b in places[f.frame_key] if near(b, anchor, config.place_margin)]
                if matching:
                    group.append(f)
                    boxes += matching
            if len(group) > len(best):
                best, best_place = group, bounding(boxes)
    return best, best_place
