"""`firewatch edge run`: classify frames on CPU with a .tflite model and confirm fire like the pipeline.

Sources are read by `firewatch.clients.publish.iter_source` (files, folders in name order, animated
images and videos sampled at --fps, lazily), decoded and preprocessed by `firewatch.core.imaging`
(the same bytes -> pixels -> model input as the pipelines), classified with the LiteRT
interpreter, and fed per camera to the pipeline's pure confirmation state machine
(`firewatch.core.confirm.step` / `flush`: shared, not copied). Frame times are spaced 1/fps apart
from the start, as `firewatch publish --fast` stamps them. Alert events are the pipeline's
alert rows; with `publish` they go to the alerts topic in the pipeline's message format
(`firewatch.core.alerts.alert_message_parts`). A frame that cannot be decoded is reported and skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any

from edge.litert import TFLiteModel
from firewatch.clients.publish import CameraSource, check_source, iter_source
from firewatch.core.confirm import CameraState, ConfirmConfig, FrameObservation, flush, step
from firewatch.core.imaging import ImageError, decode_image
from firewatch.core.names import resource_path
from firewatch.core.regions import RegionConfig, score_pixels


@dataclass
class FrameResult:
    camera_id: str
    frame: str
    captured_at: datetime
    probability: float | None
    label: str | None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "camera_id": self.camera_id,
            "frame": self.frame,
            "captured_at": self.captured_at.isoformat().replace("+00:00", "Z"),
            "fire_probability": self.probability,
            "label": self.label,
            "error": self.error,
        }


@dataclass
class EdgeReport:
    frames: list[FrameResult] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    published: int = 0

    @property
    def errors(self) -> int:
        return sum(1 for f in self.frames if f.error)


def model_version_of(model: TFLiteModel) -> str:
    """The version alert rows carry: the SavedModel's version and the TFLite variant."""
    return f"{model.metadata['model_version']}+tflite-{model.variant}"


def run_edge(
    model: TFLiteModel,
    sources: list[CameraSource],
    *,
    confirm: ConfirmConfig,
    fps: float = 1.0,
    threshold: float | None = None,
    start: datetime | None = None,
    on_frame: Callable[[FrameResult], None] | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    regions: RegionConfig | None = None,
) -> EdgeReport:
    """Classify every camera's frames in turn and run confirmation per camera; return what happened."""
    for source in sources:
        for path in source.paths:
            check_source(path)  # every source is checked before the first frame is classified
    threshold = model.threshold if threshold is None else threshold
    version = model_version_of(model)
    start = start or datetime.now(UTC).replace(microsecond=0)
    report = EdgeReport()
    states = {s.camera_id: CameraState() for s in sources}

    def emit(events: list[dict[str, Any]]) -> None:
        for event in events:
            report.events.append(event)
            if on_event:
                on_event(event)

    for camera_id, index, frame in _interleave(sources, fps):
        captured_at = start + timedelta(seconds=index / fps)
        try:
            pixels = decode_image(frame.data).pixels
        except ImageError as exc:
            result = FrameResult(camera_id, frame.name, captured_at, None, None, str(exc))
        else:
            scores = score_pixels(model.predict, pixels, model.image_size, threshold, regions).scores
            p = scores.probability
            result = FrameResult(camera_id, frame.name, captured_at, p, model.label(p, threshold))
            obs = FrameObservation(
                captured_at,
                f"{camera_id}/{frame.name}",
                p,
                threshold,
                version,
                frame.name,
                boxes=scores.boxes,
                peak_box=scores.peak_box,
            )
            emit(step(states[camera_id], camera_id, obs, confirm, now=datetime.now(UTC)))
        report.frames.append(result)
        if on_frame:
            on_frame(result)
    for camera_id, state in states.items():
        emit(flush(state, camera_id, confirm, now=datetime.now(UTC)))
    return report


def _interleave(sources: list[CameraSource], fps: float) -> Iterator[tuple[str, int, Any]]:
    """(camera, frame index, frame): one frame per camera per tick, like `firewatch publish`."""
    streams = {s.camera_id: chain.from_iterable(iter_source(p, fps) for p in s.paths) for s in sources}
    index = 0
    while streams:
        for camera_id in list(streams):
            frame = next(streams[camera_id], None)
            if frame is None:
                del streams[camera_id]
            else:
                yield camera_id, index, frame
        index += 1


def alert_publisher(topic: str, project: str) -> Callable[[dict[str, Any]], str]:
    """A function publishing one alert event to the alerts topic (pipeline message format); returns its id."""
    from firewatch.cloud.clients import publisher_client
    from firewatch.core.alerts import alert_message_parts

    publisher = publisher_client()
    topic_path = resource_path("topics", topic, project)

    def publish(event: dict[str, Any]) -> str:
        data, attributes = alert_message_parts(event)
        return publisher.publish(topic_path, data, **attributes).result(timeout=60)

    return publish


def format_frame(result: FrameResult) -> str:
    if result.error:
        return f"{result.camera_id}  {result.frame}  SKIPPED: {result.error}"
    return f"{result.camera_id}  {result.frame}  {result.label:<8} p={result.probability:.3f}"


def format_event(event: dict[str, Any]) -> str:
    """An alert event as the same line `firewatch alerts` prints (`firewatch.core.alerts.describe`)."""
    from firewatch.core.alerts import AlertEvent, describe

    return describe(AlertEvent.model_validate(event))


def as_json(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True)
