"""Copying model folders between gs:// and local disk with Beam's FileSystems (no tf gs:// support)."""

from __future__ import annotations

import os
import tempfile


def is_remote(path: str) -> bool:
    return "://" in path


def download_dir(prefix: str, local_dir: str | None = None) -> str:
    """Copy every object under `prefix/` into a local folder (a new temp dir by default)."""
    from apache_beam.io.filesystems import CompressionTypes, FileSystems

    prefix = prefix.rstrip("/")
    local_dir = local_dir or tempfile.mkdtemp(prefix="firewatch-")
    matches = FileSystems.match([f"{prefix}/**"])[0].metadata_list
    if not matches:
        raise FileNotFoundError(f"nothing found under {prefix}/")
    for meta in matches:
        rel = meta.path[len(prefix) + 1 :]
        if not rel or rel.endswith("/"):
            continue
        dest = os.path.join(local_dir, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with (
            FileSystems.open(meta.path, compression_type=CompressionTypes.UNCOMPRESSED) as src,
            open(dest, "wb") as dst,
        ):
            dst.write(src.read())
    return local_dir


def upload_dir(local_dir: str, prefix: str) -> None:
    """Copy a local folder tree to `prefix/` (gs:// or any Beam filesystem)."""
    from apache_beam.io.filesystems import CompressionTypes, FileSystems

    for root, _, files in os.walk(local_dir):
        for name in files:
            src = os.path.join(root, name)
            rel = os.path.relpath(src, local_dir).replace(os.sep, "/")
            with (
                open(src, "rb") as f,
                FileSystems.create(
                    f"{prefix.rstrip('/')}/{rel}", compression_type=CompressionTypes.UNCOMPRESSED
                ) as dst,
            ):
                dst.write(f.read())


def read_bytes(path: str) -> bytes:
    from apache_beam.io.filesystems import CompressionTypes, FileSystems

    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return f.read()
