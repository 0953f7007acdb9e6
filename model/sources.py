"""Labelled image sources: list `ROOT/<label>/*.{jpg,jpeg,png}` (local or gs://) and verify files.

`verify_image` is the pure per-file step used by ingest: it reads nothing itself, takes
the bytes, decodes them with `firewatch.imaging.decode_image` and returns either a
`VerifiedImage` ready to become a TFRecord or a `Rejection` with the path and the reason.
Nothing raises on a bad file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from firewatch.imaging import ImageError, decode_image
from model.records import CLASS_NAMES, image_id

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
# Formats the exported graph decodes with tf.io.decode_image; others are re-encoded as PNG.
GRAPH_FORMATS = {"JPEG": "jpeg", "PNG": "png", "GIF": "gif", "BMP": "bmp"}


@dataclass(frozen=True)
class VerifiedImage:
    encoded: bytes
    format: str
    label: str
    id: str
    source_path: str
    width: int
    height: int


@dataclass(frozen=True)
class Rejection:
    path: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


def label_of(path: str) -> str:
    """The label of an image is the name of its parent folder."""
    parts = path.rstrip("/").replace("\\", "/").split("/")
    return parts[-2] if len(parts) >= 2 else ""


def list_images(root: str) -> list[str]:
    """All files one level below ROOT's label folders, sorted (Beam FileSystems: local or gs://)."""
    from apache_beam.io.filesystems import FileSystems

    root = root.rstrip("/")
    if not root.startswith("gs://"):
        import os

        if not os.path.isdir(root):
            raise FileNotFoundError(f"input folder {root} does not exist")
    result = FileSystems.match([f"{root}/*/*"])[0]
    return sorted(m.path for m in result.metadata_list)


def check_path(path: str) -> Rejection | None:
    """Reject files that are not in a known label folder or have a non-image extension."""
    label = label_of(path)
    if label not in CLASS_NAMES:
        return Rejection(path, f"parent folder {label!r} is not a label; expected one of {list(CLASS_NAMES)}")
    if not path.lower().endswith(IMAGE_EXTENSIONS):
        return Rejection(path, f"not an image file name (expected one of {', '.join(IMAGE_EXTENSIONS)})")
    return None


def verify_image(path: str, data: bytes) -> VerifiedImage | Rejection:
    """Decode the bytes fully; return the verified image or the reason it was rejected."""
    rejected = check_path(path)
    if rejected:
        return rejected
    try:
        decoded = decode_image(data)
    except ImageError as exc:
        return Rejection(path, str(exc))
    fmt = GRAPH_FORMATS.get(decoded.format)
    if fmt is None:  # e.g. a TIFF named .png: store PNG so the in-graph decoder reads it
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(decoded.pixels).save(buf, format="PNG")
        data, fmt = buf.getvalue(), "png"
    return VerifiedImage(data, fmt, label_of(path), image_id(data), path, decoded.width, decoded.height)


def read_and_verify(path: str) -> VerifiedImage | Rejection:
    """Read a file through Beam's FileSystems and verify it; I/O errors become rejections."""
    from apache_beam.io.filesystems import CompressionTypes, FileSystems

    rejected = check_path(path)
    if rejected:
        return rejected
    try:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            data = f.read()
    except Exception as exc:  # noqa: BLE001 - any read failure is reported, not raised
        return Rejection(path, f"cannot read file: {exc}")
    return verify_image(path, data)
