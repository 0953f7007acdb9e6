"""Postprocessing: turns scored frames and failures into BigQuery rows.

The row shapes are fixed by `infra/schemas/*.json` (predictions, dead_letters). These
functions are pure: the pipelines (streaming and batch) call them from thin DoFns, so the
same frame always yields the same row whatever the mode.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from firewatch.contract import FrameRequest

MAX_INLINE_PAYLOAD = 256 * 1024  # payloads above this are kept as size + hash only
FIRE = "fire"
NO_FIRE = "no_fire"


def rfc3339(value: datetime | None) -> str | None:
    """BigQuery-ready TIMESTAMP text (UTC, microseconds, Z)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def frame_key(camera_id: str, frame_id: str | None, content_sha256: str) -> str:
    """Stable id of a frame: the same frame redelivered or re-sent gets the same key."""
    return f"{camera_id}/{frame_id}" if frame_id else f"{camera_id}/sha256:{content_sha256[:16]}"


@dataclass(frozen=True)
class ScoredFrame:
    """What a frame carries from decode to postprocess (no pixels: those travel separately)."""

    request: FrameRequest
    content_sha256: str
    width: int
    height: int

    @property
    def key(self) -> str:
        return frame_key(self.request.camera_id, self.request.frame_id, self.content_sha256)


def label_for(probability: float, threshold: float) -> str:
    """The model's decision rule: fire when the probability reaches the threshold."""
    return FIRE if probability >= threshold else NO_FIRE


def prediction_row(
    frame: ScoredFrame,
    probability: float,
    *,
    threshold: float,
    model_version: str,
    mode: str,
    processed_at: datetime,
) -> dict[str, Any]:
    """One predictions-table row for a scored frame."""
    request = frame.request
    latency_ms = None
    if request.publish_time is not None:
        latency_ms = round((processed_at - request.publish_time).total_seconds() * 1000.0, 3)
    probability = float(probability)
    return {
        "frame_key": frame.key,
        "camera_id": request.camera_id,
        "frame_id": request.frame_id,
        "captured_at": rfc3339(request.event_time),
        "processed_at": rfc3339(processed_at),
        "fire_probability": probability,
        "label": label_for(probability, threshold),
        "threshold": float(threshold),
        "model_version": model_version,
        "source_uri": request.uri,
        "message_id": request.message_id,
        "publish_time": rfc3339(request.publish_time),
        "latency_ms": latency_ms,
        "content_sha256": frame.content_sha256,
        "image_width": frame.width,
        "image_height": frame.height,
        "mode": mode,
    }


def dead_letter_row(
    *,
    stage: str,
    reason: str,
    mode: str,
    error_type: str | None = None,
    payload: bytes | None = None,
    attributes: dict[str, str] | None = None,
    message_id: str | None = None,
    camera_id: str | None = None,
    source_uri: str | None = None,
    received_at: datetime | None = None,
) -> dict[str, Any]:
    """One dead_letters-table row: the stage, the reason and enough to replay the message."""
    attributes = dict(attributes or {})
    row: dict[str, Any] = {
        "received_at": rfc3339(received_at or datetime.now(UTC)),
        "stage": stage,
        "reason": reason[:4000],
        "error_type": error_type,
        "message_id": message_id,
        "camera_id": camera_id or attributes.get("camera_id"),
        "source_uri": source_uri,
        "attributes_json": json.dumps(attributes, sort_keys=True) if attributes else None,
        "payload_base64": None,
        "payload_size": None,
        "payload_sha256": None,
        "mode": mode,
    }
    if payload is not None:
        row["payload_size"] = len(payload)
        row["payload_sha256"] = sha256_hex(payload)
        if len(payload) <= MAX_INLINE_PAYLOAD:
            row["payload_base64"] = base64.b64encode(payload).decode("ascii")
    return row


def dead_letter_for_request(
    request: FrameRequest, *, stage: str, reason: str, error_type: str, mode: str
) -> dict[str, Any]:
    """A dead-letter row for a message that passed validation but failed later.

    The payload is the message as the contract has it: the image bytes of an inline frame, or
    `{"uri": ...}` for a frame sent by location (not the fetched object), so the dead letter
    says where the image is and can be replayed to the frames topic as it is.
    """
    payload = request.image_bytes if request.uri is None else json.dumps({"uri": request.uri}).encode()
    return dead_letter_row(
        stage=stage,
        reason=reason,
        error_type=error_type,
        mode=mode,
        payload=payload,
        attributes=request.attributes,
        message_id=request.message_id,
        camera_id=request.camera_id,
        source_uri=request.uri,
    )


def _digest(*parts: Any) -> str:
    return hashlib.sha256("|".join("" if p is None else str(p) for p in parts).encode()).hexdigest()[:32]


# BigQuery insertIds: the same row written twice (a retried bundle, a redelivered message) gets the
# same id, so BigQuery de-duplicates it; different messages always get different ids.
def prediction_row_id(row: dict[str, Any]) -> str:
    return _digest("prediction", row["frame_key"], row.get("message_id"), row.get("content_sha256"))


def dead_letter_row_id(row: dict[str, Any]) -> str:
    return _digest("dead", row["stage"], row.get("message_id"), row.get("payload_sha256"), row.get("source_uri"))


def alert_row_id(row: dict[str, Any]) -> str:
    return _digest("alert", row["alert_id"], row["event"], row["fire_frames"], row["last_frame_at"])


def explanation_row_id(row: dict[str, Any]) -> str:
    return _digest("explanation", row["frame_key"], row["model_version"], row.get("overlay_uri"))
