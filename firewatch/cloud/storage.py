"""Copying model folders between gs:// and local disk with Beam's FileSystems (no tf gs:// support)."""

from __future__ import annotations

import functools
import os
import tempfile
from typing import Any


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


@functools.cache
def _shared_storage_client() -> Any:
    """One storage client per process (a client per object would cost a session per frame)."""
    from firewatch.cloud.clients import storage_client

    return storage_client()


def write_new_object(
    uri: str, data: bytes, content_type: str = "application/octet-stream", client: Any | None = None
) -> bool:
    """Create an object whose name says what it holds (a frame's overlay), never overwriting one.

    On gs:// the upload carries `ifGenerationMatch=0` (create only): a retried bundle that writes the
    same name again gets HTTP 412, which means the object is already there, so the writer needs
    `storage.objects.create` only (roles/storage.objectCreator), not the delete permission an
    overwrite takes. Returns False when it was already there. Other paths go through Beam's
    FileSystems (local folders, tests)."""
    if uri.startswith("gs://"):
        from google.api_core import exceptions as gexc

        bucket, _, name = uri[len("gs://") :].partition("/")
        blob = (client or _shared_storage_client()).bucket(bucket).blob(name)
        try:
            blob.upload_from_string(data, content_type=content_type, if_generation_match=0)
        except gexc.PreconditionFailed:
            return False
        return True
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.create(uri, mime_type=content_type) as handle:
        handle.write(data)
    return True


def read_bytes(path: str) -> bytes:
    from apache_beam.io.filesystems import CompressionTypes, FileSystems

    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return f.read()


# -- reading one frame object, with retries ------------------------------------------------------

TRANSIENT_MARKERS = ("503", "500", "502", "504", "429", "timed out", "timeout", "temporarily", "connection reset")


class ReadFailure(Exception):
    """A read that failed for good: `kind` is object_not_found, object_forbidden or object_unavailable."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind


def failure_kind(exc: BaseException) -> str:
    """'object_not_found' / 'object_forbidden' (permanent), 'transient' (worth retrying) or the type name."""
    from google.api_core import exceptions as gexc

    text = str(exc).lower()
    if isinstance(exc, FileNotFoundError | gexc.NotFound) or "404" in text or "not found" in text:
        return "object_not_found"
    if isinstance(exc, PermissionError | gexc.Forbidden | gexc.Unauthorized) or "403" in text or "401" in text:
        return "object_forbidden"
    transient_types = (
        gexc.ServiceUnavailable,
        gexc.InternalServerError,
        gexc.TooManyRequests,
        gexc.GatewayTimeout,
        gexc.BadGateway,
        gexc.DeadlineExceeded,
        gexc.RetryError,
        ConnectionError,
        TimeoutError,
    )
    if isinstance(exc, transient_types) or _is_requests_transient(exc) or any(m in text for m in TRANSIENT_MARKERS):
        return "transient"
    return type(exc).__name__


def _is_requests_transient(exc: BaseException) -> bool:
    try:
        import requests
    except ImportError:  # pragma: no cover - requests ships with google-cloud-storage
        return False
    return isinstance(exc, requests.ConnectionError | requests.Timeout)


def _open(uri: str):
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.open(uri)


def read_object(
    uri: str,
    max_bytes: int,
    *,
    attempts: int = 6,
    initial_backoff: float = 0.5,
    max_backoff: float = 8.0,
    opener=None,
) -> bytes:
    """Up to `max_bytes + 1` bytes of a local or gs:// object (the caller checks the size).

    Transient failures (503, 429, timeouts, dropped connections) are retried with exponential
    backoff; not found / forbidden are not. Raises `ReadFailure` with the kind of failure.
    """
    import random
    import time

    open_ = opener or _open
    last: BaseException | None = None
    for attempt in range(1, attempts + 1):
        try:
            with open_(uri) as handle:
                return handle.read(max_bytes + 1)
        except Exception as exc:  # noqa: BLE001 - classified below
            kind = failure_kind(exc)
            if kind == "object_not_found":
                raise ReadFailure(kind, f"object {uri} does not exist") from exc
            if kind == "object_forbidden":
                raise ReadFailure(kind, f"no permission to read {uri}: {exc}") from exc
            if kind != "transient":
                raise ReadFailure(kind, f"could not read {uri}: {exc}") from exc
            last = exc
            if attempt < attempts:
                delay = min(max_backoff, initial_backoff * 2 ** (attempt - 1))
                time.sleep(delay * (0.5 + random.random() / 2))
    raise ReadFailure(
        "object_unavailable",
        f"could not read {uri} after {attempts} attempts (transient errors; replay the dead letter): {last}",
    )
