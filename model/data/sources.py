"""Labelled image sources: list every file under ROOT (local or gs://) and verify it.

Images belong at `ROOT/<label>/*.{jpg,jpeg,png}`; every other file under ROOT (directly
under ROOT, nested deeper, in an unknown label folder, not an image name) is listed too
and rejected with the reason, so nothing is dropped silently.

`verify_image` is the pure per-file step used by ingest: it reads nothing itself, takes
the bytes, decodes them with `firewatch.core.imaging.decode_image` and returns either a
`VerifiedImage` ready to become a TFRecord or a `Rejection` with the path and the reason.
Nothing raises on a bad file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from firewatch.cloud.storage import is_remote, read_bytes
from firewatch.core.imaging import TF_FORMATS, ImageError, decode_image
from firewatch.core.records import CLASS_NAMES, image_id

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


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
    """Every file anywhere under ROOT, sorted (Beam FileSystems: local or gs://); `check_path` sorts them out.

    Only the notes written next to the images are left out: `ROOT/synth_summary.json` (`firewatch data synth`)
    and `ROOT/feedback_manifest.jsonl`, `ROOT/feedback_skipped.json` (`firewatch data from-feedback`)."""
    from apache_beam.io.filesystems import FileSystems

    from model.data.synth import SUMMARY_NAME

    root = root.rstrip("/")
    if not is_remote(root):
        import os

        if not os.path.isdir(root):
            raise FileNotFoundError(f"input folder {root} does not exist")
    result = FileSystems.match([f"{root}/**"])[0]
    skipped = {f"{root}/{name}" for name in (SUMMARY_NAME, "feedback_manifest.jsonl", "feedback_skipped.json")}
    return sorted(m.path for m in result.metadata_list if m.path not in skipped and not m.path.endswith("/"))


def check_path(path: str, root: str | None = None) -> Rejection | None:
    """Reject files that are not at ROOT/<label>/<file> (when root is given), not in a known label folder,
    or have a non-image extension."""
    if root is not None:
        prefix = root.rstrip("/") + "/"
        parts = path[len(prefix) :].split("/") if path.startswith(prefix) else []
        if len(parts) != 2:
            where = {0: "outside ROOT", 1: "directly under ROOT"}.get(len(parts), "nested below a label folder")
            return Rejection(
                path, f"misplaced file: {where}; expected ROOT/<label>/<file> with <label> one of {list(CLASS_NAMES)}"
            )
    label = label_of(path)
    if label not in CLASS_NAMES:
        return Rejection(path, f"parent folder {label!r} is not a label; expected one of {list(CLASS_NAMES)}")
    if not path.lower().endswith(IMAGE_EXTENSIONS):
        return Rejection(path, f"not an image file name (expected one of {', '.join(IMAGE_EXTENSIONS)})")
    return None


def _decode_and_verify(path: str, data: bytes) -> VerifiedImage | Rejection:
    try:
        decoded = decode_image(data)
    except ImageError as exc:
        return Rejection(path, str(exc))
    if decoded.format in TF_FORMATS:  # the exported graph decodes these with tf.io.decode_image
        fmt = decoded.format.lower()
    else:  # e.g. a TIFF named .png: store PNG so the in-graph decoder reads it
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(decoded.pixels).save(buf, format="PNG")
        data, fmt = buf.getvalue(), "png"
    return VerifiedImage(data, fmt, label_of(path), image_id(data), path, decoded.width, decoded.height)


def verify_image(path: str, data: bytes) -> VerifiedImage | Rejection:
    """Check the path and decode the bytes fully; return the verified image or the reason it was rejected."""
    return check_path(path) or _decode_and_verify(path, data)


def read_and_verify(path: str, root: str | None = None) -> VerifiedImage | Rejection:
    """Check the path (against ROOT's layout when root is given), read the file through Beam's FileSystems
    and verify it; I/O errors become rejections."""
    rejected = check_path(path, root)
    if rejected:
        return rejected
    try:
        data = read_bytes(path)
    except Exception as exc:  # noqa: BLE001 - any read failure is reported, not raised
        return Rejection(path, f"cannot read file: {exc}")
    return _decode_and_verify(path, data)
