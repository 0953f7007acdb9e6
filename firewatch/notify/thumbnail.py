"""A small JPEG of the alert's peak frame, for the channels that show pictures.

The peak frame is the entry of `frame_uris` that names the event's `peak_frame_key` (the frame id
after the camera's `/`); when none does, the explanation overlay (`explanation_uri`, of the most
probable explained frame), labelled as such. gs:// objects are read with the project's storage
client (`firewatch.cloud.clients.storage_client`: the GCS emulator or real GCS; no Beam needed),
local paths from disk, and scaled with PIL. Anything that fails gives no thumbnail
and a reason: a notice is never held back for its picture.
"""

from __future__ import annotations

import io
from typing import Any

from firewatch.notify.message import Thumbnail

MAX_SOURCE_BYTES = 25 * 1024 * 1024


def peak_picture(event: dict[str, Any]) -> tuple[str, str] | None:
    """(uri, label) of the picture to show for an alert event; None when it names none."""
    key = str(event.get("peak_frame_key") or "")
    frame_id = key.split("/", 1)[1] if "/" in key else key
    uris = [u for u in event.get("frame_uris") or [] if isinstance(u, str) and ("://" in u or u.startswith("/"))]
    if frame_id:
        for uri in reversed(uris):
            name = uri.rsplit("/", 1)[-1]
            if frame_id in (uri, name) or name.startswith(frame_id + ".") or uri.endswith("/" + frame_id):
                return uri, f"peak frame {key}"
    if event.get("explanation_uri"):
        return str(event["explanation_uri"]), "explanation overlay of the alert's most probable explained frame"
    return None


def read_picture(uri: str, timeout: float = 10.0) -> bytes:
    """The bytes of a gs:// object or a local file (at most MAX_SOURCE_BYTES + 1 of a file)."""
    if uri.startswith("gs://"):
        from firewatch.cloud.clients import storage_client

        bucket, _, name = uri[len("gs://") :].partition("/")
        blob = storage_client().bucket(bucket).blob(name)
        return blob.download_as_bytes(timeout=timeout)
    if "://" in uri:
        raise ValueError(f"cannot read {uri}: only gs:// and local paths")
    with open(uri, "rb") as handle:
        return handle.read(MAX_SOURCE_BYTES + 1)


def scale_jpeg(data: bytes, max_px: int) -> bytes:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.thumbnail((max_px, max_px))
        out = io.BytesIO()
        image.convert("RGB").save(out, format="JPEG", quality=80)
    return out.getvalue()


def fetch_thumbnail(event: dict[str, Any], max_px: int, read=None) -> tuple[Thumbnail | None, str | None]:
    """(thumbnail, None) or (None, why there is none)."""
    picture = peak_picture(event)
    if picture is None:
        return None, "the event names no frame picture"
    uri, label = picture
    try:
        data = (read or read_picture)(uri)
        if len(data) > MAX_SOURCE_BYTES:
            return None, f"{uri} is larger than {MAX_SOURCE_BYTES} bytes"
        return Thumbnail(jpeg=scale_jpeg(data, max_px), source_uri=uri, label=label), None
    except Exception as exc:  # noqa: BLE001 - no picture is not a failed notice
        return None, f"cannot make a thumbnail of {uri}: {exc}"
