"""Serving frame images and overlays: only gs:// objects in allow-listed buckets, only real images.

`parse_object_uri` is the gate: a gs:// URI with an allowed bucket and a plain object name (no
`..` segments, no leading slash, no backslashes or control characters). Anything else (http URLs,
file paths, other buckets) is refused with the reason. Bytes are checked to be an image before they
are served, with the content type from the decoded header (never from the object's metadata).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from firewatch.core.contract import ContractError, split_object_uri
from firewatch.core.imaging import ImageError, inspect_image

CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "BMP": "image/bmp", "WEBP": "image/webp"}


class ImageRefused(ValueError):
    """The image URI is not allowed, or the object is not an image."""


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    name: str


def parse_object_uri(uri: str, allowed_buckets: Collection[str]) -> ObjectRef:
    """The pipeline's own URI rules (`firewatch.core.contract.split_object_uri`), as ImageRefused."""
    try:
        bucket, name = split_object_uri(uri, tuple(allowed_buckets))
    except ContractError as exc:
        raise ImageRefused(exc.reason) from None
    return ObjectRef(bucket, name)


def image_content_type(data: bytes) -> str:
    try:
        fmt, _, _ = inspect_image(data)
    except ImageError as exc:
        raise ImageRefused(f"object is not a servable image: {exc}") from None
    if fmt not in CONTENT_TYPES:
        raise ImageRefused(f"image format {fmt} is not served")
    return CONTENT_TYPES[fmt]
