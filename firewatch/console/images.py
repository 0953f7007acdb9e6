"""Serving frame images and overlays: only gs:// objects in allow-listed buckets, only real images.

`parse_object_uri` is the gate: a gs:// URI with an allowed bucket and a plain object name (no
`..` segments, no leading slash, no backslashes or control characters). Anything else (http URLs,
file paths, other buckets) is refused with the reason. Bytes are checked to be an image before they
are served, with the content type from the decoded header (never from the object's metadata).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from firewatch.core.imaging import ImageError, inspect_image

_URI_RE = re.compile(r"^gs://([a-z0-9][a-z0-9._-]{1,61}[a-z0-9])/(.{1,1024})$", re.DOTALL)
CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "BMP": "image/bmp", "WEBP": "image/webp"}


class ImageRefused(ValueError):
    """The image URI is not allowed, or the object is not an image."""


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    name: str


def parse_object_uri(uri: str, allowed_buckets: Collection[str]) -> ObjectRef:
    match = _URI_RE.match(uri or "")
    if not match:
        raise ImageRefused(f"{uri[:100]!r} is not a gs://BUCKET/OBJECT URI")
    bucket, name = match.groups()
    if bucket not in allowed_buckets:
        raise ImageRefused(f"bucket {bucket!r} is not allow-listed (--allowed-buckets)")
    if name.startswith("/") or "\\" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ImageRefused("object name has a leading slash, a backslash or control characters")
    if any(part in ("..", ".") for part in name.split("/")):
        raise ImageRefused("object name has '.' or '..' segments")
    return ObjectRef(bucket, name)


def image_content_type(data: bytes) -> str:
    try:
        fmt, _, _ = inspect_image(data)
    except ImageError as exc:
        raise ImageRefused(f"object is not a servable image: {exc}") from None
    if fmt not in CONTENT_TYPES:
        raise ImageRefused(f"image format {fmt} is not served")
    return CONTENT_TYPES[fmt]
