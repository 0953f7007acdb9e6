"""Beam wrappers for fire confirmation and alert publishing.

`ConfirmFire` is a stateful DoFn keyed by camera_id that feeds each prediction row to the
pure state machine in `firewatch.confirm` and emits alert events (alerts-table rows).
`to_pubsub_message` turns an event into the alert topic's message: the JSON event as
data, with `camera_id`, `event` and `alert_id` attributes for subscription filters.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Timestamp

from firewatch.confirm import CameraState, ConfirmConfig, FrameObservation, flush, step


def overlay_uri(prefix: str, model_version: str, frame_key: str) -> str:
    """Where the explanation overlay of a frame is written (one definition for both sides).

    Readable (the key with unsafe characters replaced) and unique (a hash of the exact key).
    """
    stem = re.sub(r"\.(png|jpe?g|gif|bmp|webp|tiff?)$", "", frame_key, flags=re.IGNORECASE)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", stem)[-150:]
    digest = hashlib.sha256(frame_key.encode("utf-8")).hexdigest()[:8]
    return f"{prefix.rstrip('/')}/{model_version}/{safe}-{digest}.png"


class ConfirmFire(beam.DoFn):
    """Stateful per camera: counts frames in time order; a wall-clock timer flushes frames
    still waiting in the reorder buffer when a camera goes quiet."""

    CAMERA_STATE = ReadModifyWriteStateSpec("camera", PickleCoder())
    FLUSH = TimerSpec("flush", TimeDomain.REAL_TIME)

    def __init__(self, config: ConfirmConfig, explanations_prefix: str | None = None) -> None:
        self._config = config
        self._prefix = explanations_prefix

    def _uri_for(self, frame_key: str, model_version: str) -> str | None:
        return overlay_uri(self._prefix, model_version, frame_key) if self._prefix and frame_key else None

    def process(
        self,
        element: tuple[str, dict[str, Any]],
        state=beam.DoFn.StateParam(CAMERA_STATE),
        timer=beam.DoFn.TimerParam(FLUSH),
    ):
        camera_id, row = element
        camera = state.read() or CameraState()
        events = step(
            camera,
            camera_id,
            FrameObservation.from_row(row),
            self._config,
            now=datetime.now(UTC),
            explanation_uri_for=self._uri_for,
        )
        state.write(camera)
        if camera.pending:
            timer.set(Timestamp.now() + self._config.flush_after_seconds)
        yield from events

    @on_timer(FLUSH)
    def on_flush(self, key=beam.DoFn.KeyParam, state=beam.DoFn.StateParam(CAMERA_STATE)):
        camera = state.read()
        if camera is None or not camera.pending:
            return
        events = flush(camera, key, self._config, now=datetime.now(UTC), explanation_uri_for=self._uri_for)
        state.write(camera)
        yield from events


def dead_letter_message(row: dict[str, Any]) -> PubsubMessage:
    """A dead letter for the dead-letter topic: the original payload and attributes (so a fixed
    message can be replayed to the frames topic) plus why it was rejected."""
    import base64

    attributes = json.loads(row["attributes_json"]) if row.get("attributes_json") else {}
    attributes.update(
        firewatch_stage=row["stage"],
        firewatch_reason=row["reason"][:1000],  # Pub/Sub attribute values are at most 1024 bytes
        firewatch_error_type=row.get("error_type") or "",
    )
    if row.get("payload_base64"):
        data = base64.b64decode(row["payload_base64"])
    else:  # payload too large to keep, or a failure after the payload was dropped: the row itself
        data = json.dumps(row, sort_keys=True).encode("utf-8")
    return PubsubMessage(data, attributes)


def to_pubsub_message(event: dict[str, Any]) -> PubsubMessage:
    attributes = {"camera_id": event["camera_id"], "event": event["event"], "alert_id": event["alert_id"]}
    return PubsubMessage(json.dumps(event, sort_keys=True).encode("utf-8"), attributes)


class ConfirmAndAlert(beam.PTransform):
    """prediction rows -> alert events (one PCollection), confirmed per camera."""

    def __init__(self, config: ConfirmConfig, explanations_prefix: str | None = None) -> None:
        super().__init__()
        self._config = config
        self._prefix = explanations_prefix

    def expand(self, rows):
        return (
            rows
            | "KeyByCamera" >> beam.Map(lambda row: (row["camera_id"], row))
            | "Confirm" >> beam.ParDo(ConfirmFire(self._config, self._prefix))
        )
