"""The frame message contract: what may be published to the frames topic.

A message's data is either the encoded image itself, or a JSON body `{"uri": "gs://..."}`.
Attributes: `camera_id` (required), `captured_at` (RFC 3339), `frame_id`, `content_type`.
Cloud Storage object-finalize notifications (attributes `bucketId`, `objectId`,
`eventType`) are accepted too; their camera comes from the `camera_id` attribute, the
object's custom metadata `camera_id`, or the first folder of the object name.

`parse_message` turns a raw message into a validated `FrameRequest` or raises
`ContractError` (rule + reason), which the pipelines turn into a dead-letter row. Only
`gs://` URIs in allow-listed buckets are ever fetched; no other scheme is.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from firewatch.core.names import BUCKET_NAME

PUBSUB_MAX_MESSAGE_BYTES = 10 * 1024 * 1024
# The limits, declared once: the jobs' configs and the decoder take their defaults from here.
MAX_OBJECT_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000  # ~ 8K x 5K; larger frames are refused, not decoded
CAMERA_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
FRAME_ID_PATTERN = re.compile(r"^[^\x00-\x1f]{1,256}$")
GS_URI_PATTERN = re.compile(rf"^gs://({BUCKET_NAME})/(.+)\Z", re.DOTALL)
KNOWN_ATTRIBUTES = {"camera_id", "captured_at", "frame_id", "content_type"}


class ContractError(ValueError):
    """A message breaks the contract. `rule` is a short machine name, `reason` is for people."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(f"{rule}: {reason}")
        self.rule = rule
        self.reason = reason


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (at most 300 characters), for a reason column."""
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def describe_error(exc: BaseException) -> tuple[str, str]:
    """(rule, reason) for a dead letter: the contract's own words, or the exception's."""
    if isinstance(exc, ContractError):
        return exc.rule, exc.reason
    return type(exc).__name__, str(exc)[:2000]


class MessageLimits(BaseModel):
    """Limits applied to every message before anything is fetched or decoded."""

    model_config = ConfigDict(frozen=True)

    max_message_bytes: int = Field(PUBSUB_MAX_MESSAGE_BYTES, gt=0)
    max_object_bytes: int = Field(MAX_OBJECT_BYTES, gt=0, description="largest gs:// object fetched")
    max_pixels: int = Field(MAX_PIXELS, gt=0, description="largest decoded image (width x height)")
    allowed_buckets: tuple[str, ...] = Field(
        (), description="buckets whose objects may be fetched (none by default: the jobs name the project's)"
    )


class FrameRequest(BaseModel):
    """A validated frame: where its bytes are (inline or a URI) and who sent it."""

    model_config = ConfigDict(frozen=True)

    camera_id: str
    frame_id: str | None = None
    captured_at: datetime | None = None
    content_type: str | None = None
    image_bytes: bytes | None = None
    uri: str | None = None
    message_id: str | None = None
    publish_time: datetime | None = None
    attributes: dict[str, str] = Field(default_factory=dict)

    @field_validator("camera_id")
    @classmethod
    def _camera_id(cls, value: str) -> str:
        return check_camera_id(value)

    @property
    def event_time(self) -> datetime | None:
        """When the frame was taken: captured_at, else the publish time."""
        return self.captured_at or self.publish_time


def parse_rfc3339(value: str) -> datetime:
    """Parse an RFC 3339 timestamp (Z or offset) to an aware UTC datetime."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("timestamp has no time zone (RFC 3339 needs Z or an offset)")
    return parsed.astimezone(UTC)


def check_camera_id(value: object) -> str:
    """The camera id, or ContractError naming the rule; the one check the pipeline, the console and
    the publishing client share."""
    if not isinstance(value, str) or not CAMERA_ID_PATTERN.match(value):
        shown = value[:80] if isinstance(value, str) else value
        raise ContractError("bad_camera_id", f"camera_id {shown!r} must be 1-128 of letters, digits and . _ : @ -")
    return value


def split_object_uri(uri: object, allowed_buckets: tuple[str, ...] | list[str] | frozenset[str]) -> tuple[str, str]:
    """(bucket, object name) of a gs://bucket/object URI in an allow-listed bucket, or ContractError.

    Object names with '.' or '..' segments, a leading slash, a backslash or control characters are
    refused here, for every entry point (pipeline, console, clients): one rule, one place."""
    if not isinstance(uri, str) or "://" not in uri:
        raise ContractError("bad_uri", f"uri {str(uri)[:100]!r} is not a gs://bucket/object URI")
    if not uri.startswith("gs://"):
        scheme = uri.split("://", 1)[0][:20]
        raise ContractError("unsupported_uri_scheme", f"only gs:// URIs are fetched, not {scheme}://")
    match = GS_URI_PATTERN.match(uri)
    if not match:
        raise ContractError("bad_uri", f"uri {uri[:100]!r} is not a valid gs://bucket/object URI")
    bucket, name = match.groups()
    if len(name.encode()) > 1024:
        raise ContractError("bad_uri", "object name is longer than 1024 bytes (Cloud Storage's limit)")
    if bucket not in allowed_buckets:
        raise ContractError(
            "forbidden_bucket",
            f"bucket {bucket!r} is not allow-listed (allowed: {', '.join(allowed_buckets) or 'none'})",
        )
    if name.startswith("/") or "\\" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ContractError("bad_uri", "object name has a leading slash, a backslash or control characters")
    if any(part in ("..", ".") for part in name.split("/")):
        raise ContractError("bad_uri", "object name has '.' or '..' segments")
    return bucket, name


def check_uri(uri: str, limits: MessageLimits) -> str:
    """Accept only gs://bucket/object URIs in an allow-listed bucket (`split_object_uri`'s rules)."""
    split_object_uri(uri, limits.allowed_buckets)
    return uri


def parse_message(
    data: bytes | None,
    attributes: dict[str, str] | None,
    limits: MessageLimits = MessageLimits(),
    *,
    message_id: str | None = None,
    publish_time: datetime | None = None,
) -> FrameRequest:
    """Validate one Pub/Sub message against the contract."""
    data = data or b""
    attributes = dict(attributes or {})
    if len(data) > limits.max_message_bytes:
        raise ContractError("message_too_large", f"message data is {len(data)} bytes, above {limits.max_message_bytes}")
    if "bucketId" in attributes and "objectId" in attributes:
        fields = _from_storage_notification(data, attributes, limits)
    else:
        fields = _from_frame_message(data, attributes, limits)

    camera_id = fields.pop("camera_id", None) or attributes.get("camera_id")
    if not camera_id:
        raise ContractError("missing_camera_id", "attribute camera_id is required")
    check_camera_id(camera_id)
    frame_id = fields.pop("frame_id", None) or attributes.get("frame_id")
    if frame_id is not None and not FRAME_ID_PATTERN.match(frame_id):
        raise ContractError("bad_frame_id", "frame_id must be 1-256 printable characters")
    captured_raw = fields.pop("captured_at", None) or attributes.get("captured_at")
    captured_at = None
    if captured_raw:
        try:
            captured_at = parse_rfc3339(captured_raw)
        except ValueError as exc:
            raise ContractError("bad_captured_at", f"captured_at {captured_raw!r} is not RFC 3339 ({exc})") from None
    return FrameRequest(
        camera_id=camera_id,
        frame_id=frame_id,
        captured_at=captured_at,
        content_type=attributes.get("content_type"),
        message_id=message_id,
        publish_time=publish_time,
        attributes=attributes,
        **fields,
    )


def _from_frame_message(data: bytes, attributes: dict[str, str], limits: MessageLimits) -> dict[str, Any]:
    if not data:
        raise ContractError("empty_data", 'message data is empty: send the image bytes or {"uri": ...}')
    if data.lstrip()[:1] == b"{":
        try:
            body = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ContractError("bad_json", f"message data looks like JSON but does not parse: {exc}") from None
        if not isinstance(body, dict) or "uri" not in body:
            raise ContractError("bad_json", 'a JSON message body must be {"uri": "gs://bucket/object"}')
        fields: dict[str, Any] = {"uri": check_uri(body["uri"], limits)}
        for key in ("camera_id", "frame_id", "captured_at"):
            if isinstance(body.get(key), str):
                fields[key] = body[key]
        return fields
    return {"image_bytes": data}


def _from_storage_notification(data: bytes, attributes: dict[str, str], limits: MessageLimits) -> dict[str, Any]:
    event = attributes.get("eventType", "OBJECT_FINALIZE")
    if event != "OBJECT_FINALIZE":
        raise ContractError("ignored_event", f"storage notification {event} is not an object finalize")
    bucket, name = attributes["bucketId"], attributes["objectId"]
    fields: dict[str, Any] = {"uri": check_uri(f"gs://{bucket}/{name}", limits), "frame_id": name}
    metadata: dict[str, Any] = {}
    if data:
        try:
            resource = json.loads(data)
            metadata = resource.get("metadata") or {}
            if "captured_at" not in metadata and resource.get("timeCreated"):
                metadata = {**metadata, "captured_at": resource["timeCreated"]}
        except (ValueError, AttributeError):
            metadata = {}
    for key in ("camera_id", "captured_at"):
        if isinstance(metadata.get(key), str):
            fields[key] = metadata[key]
    if "camera_id" not in fields and not attributes.get("camera_id") and "/" in name:
        fields["camera_id"] = name.split("/", 1)[0]
    return fields


def now_utc() -> datetime:
    return datetime.now(UTC)
