"""BigQuery rows: predictions (at the sink), dead letters, and their insertIds.

The row shapes are fixed by `infra/schemas/*.json`. These functions are pure: the pipelines
(streaming and batch) call them from thin DoFns, so the same frame always yields the same row
whatever the mode.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from firewatch.core.contract import FrameRequest
from firewatch.core.explain import Explanation
from firewatch.core.prediction import Prediction

MAX_INLINE_PAYLOAD = 256 * 1024  # payloads above this are kept as size + hash only


def rfc3339(value: datetime | None) -> str | None:
    """BigQuery-ready TIMESTAMP text (UTC, microseconds, Z)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def prediction_row(prediction: Prediction) -> dict[str, Any]:
    """One predictions-table row (infra/schemas/predictions.json) for a prediction."""
    return {
        "frame_key": prediction.frame_key,
        "camera_id": prediction.camera_id,
        "frame_id": prediction.frame_id,
        "captured_at": rfc3339(prediction.event_time),
        "processed_at": rfc3339(prediction.processed_at),
        "fire_probability": prediction.probability,
        "label": prediction.label,
        "threshold": prediction.threshold,
        "model_version": prediction.model_version,
        "source_uri": prediction.source_uri,
        "message_id": prediction.message_id,
        "publish_time": rfc3339(prediction.publish_time),
        "latency_ms": prediction.latency_ms,
        "content_sha256": prediction.content_sha256,
        "image_width": prediction.width,
        "image_height": prediction.height,
        "mode": prediction.mode,
        "mask_version": prediction.mask_version,
        "fire_boxes": [box_record(b.box, b.probability) for b in prediction.boxes],
        "regions_scored": prediction.regions_scored,
        "region_scores": [{"region": key, "probability": p} for key, p in prediction.region_scores],
        "period": prediction.period,
    }


def box_record(box: Sequence[float], probability: float | None = None) -> dict[str, float]:
    """A box (fractions of the frame) as a BigQuery RECORD; with its probability when given."""
    record = {"x_min": float(box[0]), "y_min": float(box[1]), "x_max": float(box[2]), "y_max": float(box[3])}
    if probability is not None:
        record["probability"] = float(probability)
    return record


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


def explanation_row(
    prediction: Prediction,
    explanation: Explanation,
    model_version: str,
    uri: str | None,
    mode: str,
    created_at: datetime,
) -> dict[str, Any]:
    """One row of the explanations table (field names and types of infra/schemas/explanations.json)."""
    return {
        "frame_key": prediction.frame_key,
        "camera_id": prediction.camera_id,
        "frame_id": prediction.frame_id,
        "source_uri": prediction.source_uri,
        "model_version": model_version,
        "fire_probability": float(explanation.probability),
        "method": explanation.method,
        "ig_steps": int(explanation.steps),
        "baselines": list(explanation.baselines),
        "approximation_error": float(explanation.approximation_error),
        "approximation_flagged": bool(explanation.flagged),
        "top_regions": [
            {
                "x_min": float(r.x_min),
                "y_min": float(r.y_min),
                "x_max": float(r.x_max),
                "y_max": float(r.y_max),
                "share": float(r.share),
            }
            for r in explanation.top_regions
        ],
        "overlay_uri": uri,
        "compute_ms": float(explanation.compute_ms),
        "created_at": rfc3339(created_at),
        "mode": mode,
    }


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


def camera_health_row_id(row: dict[str, Any]) -> str:
    return _digest("camera_health", row["event_id"])


def explanation_row_id(row: dict[str, Any]) -> str:
    return _digest("explanation", row["frame_key"], row["model_version"], row.get("overlay_uri"))
