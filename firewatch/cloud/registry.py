"""The model registry folder on storage (a local path or gs://, through Beam's FileSystems).

Layout (rules in `firewatch.core.registry`):

    REGISTRY/<version>/            the export (saved_model.pb, variables/, firewatch_model.json) + lineage.json
                                   (written last: a folder without it is an interrupted register)
    REGISTRY/current               the version the running jobs score with (one line)
    REGISTRY/shadow                the version scored alongside it, never alerting (one line, may be absent)
    REGISTRY/history.json          the versions `current` named, oldest first (rollback pops)

A pointer is rewritten whole: on gs:// an object upload is atomic, and a local file is written
beside it and renamed over it, so a reader sees the old name or the new one, never half of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import Any

from firewatch.cloud.storage import download_dir, is_remote, read_bytes, upload_dir
from firewatch.core.registry import (
    HISTORY_FILE,
    LINEAGE_FILE,
    RESERVED,
    check_version_name,
    parse_pointer,
)


def join(registry: str, *parts: str) -> str:
    return "/".join([registry.rstrip("/"), *parts])


def version_dir(registry: str, version: str) -> str:
    return join(registry, check_version_name(version))


def read_text(path: str) -> str | None:
    """A small file's text, or None when it does not exist."""
    if is_remote(path):
        from apache_beam.io.filesystems import FileSystems

        if not FileSystems.exists(path):
            return None
        return read_bytes(path).decode()
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None


def write_text(path: str, text: str) -> None:
    """Replace a small file whole (atomic for a reader: see the module docstring)."""
    if is_remote(path):
        from apache_beam.io.filesystems import CompressionTypes, FileSystems

        with FileSystems.create(path, mime_type="text/plain", compression_type=CompressionTypes.UNCOMPRESSED) as f:
            f.write(text.encode())
        return
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def read_json(path: str) -> Any:
    text = read_text(path)
    return None if text is None else json.loads(text)


def write_json(path: str, value: Any) -> None:
    write_text(path, json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


def read_pointer(registry: str, pointer: str) -> str | None:
    """The version `current` or `shadow` names (None when unset)."""
    text = read_text(join(registry, pointer))
    return parse_pointer(text) if text is not None else None


def write_pointer(registry: str, pointer: str, version: str | None) -> None:
    write_text(join(registry, pointer), (check_version_name(version) + "\n") if version else "")


def read_history(registry: str) -> list[dict[str, Any]]:
    return list(read_json(join(registry, HISTORY_FILE)) or [])


def write_history(registry: str, history: list[dict[str, Any]]) -> None:
    write_json(join(registry, HISTORY_FILE), history)


def list_versions(registry: str) -> list[str]:
    """The versions registered, sorted by name: sub-folders with `lineage.json`, which `register`
    writes last (a copy interrupted halfway is not a version, and registering it again completes it)."""
    if is_remote(registry):
        from apache_beam.io.filesystems import FileSystems

        found = FileSystems.match([join(registry, "*", LINEAGE_FILE)])[0].metadata_list
        names = {m.path[len(registry.rstrip("/")) + 1 :].split("/")[0] for m in found}
    elif os.path.isdir(registry):
        names = {n for n in os.listdir(registry) if os.path.isfile(os.path.join(registry, n, LINEAGE_FILE))}
    else:
        names = set()
    return sorted(n for n in names if n not in RESERVED)


def exists(registry: str, version: str) -> bool:
    return read_text(join(version_dir(registry, version), LINEAGE_FILE)) is not None


def read_lineage(registry: str, version: str) -> dict[str, Any] | None:
    return read_json(join(version_dir(registry, version), LINEAGE_FILE))


def write_lineage(registry: str, version: str, lineage: dict[str, Any]) -> None:
    write_json(join(version_dir(registry, version), LINEAGE_FILE), lineage)


def copy_model(model_dir: str, registry: str, version: str) -> str:
    """Copy an export into REGISTRY/<version>/ (any of local or gs:// on either side)."""
    dest = version_dir(registry, version)
    local = download_dir(model_dir) if is_remote(model_dir) else model_dir
    if is_remote(dest):
        upload_dir(local, dest)
    else:
        import shutil

        shutil.copytree(local, dest, dirs_exist_ok=True)  # completes an interrupted copy
    return dest


def file_hashes(root: str, limit: int = 10_000) -> list[dict[str, Any]]:
    """sha256 and size of every file under `root` (a folder, local or gs://, or one file), sorted by path."""
    if is_remote(root):
        from apache_beam.io.filesystems import FileSystems

        metas = (
            FileSystems.match([root.rstrip("/") + "/**"])[0].metadata_list or FileSystems.match([root])[0].metadata_list
        )
        paths = sorted(m.path for m in metas)
    elif os.path.isfile(root):
        paths = [root]
    else:
        paths = sorted(os.path.join(d, n) for d, _, names in os.walk(root) for n in names)
    return [_hash_file(path) for path in paths[:limit]]


def _hash_file(path: str, chunk: int = 1 << 20) -> dict[str, Any]:
    """sha256 and size of one file, read in chunks (TFRecord shards can be large)."""
    from apache_beam.io.filesystems import CompressionTypes, FileSystems

    digest, size = hashlib.sha256(), 0
    if is_remote(path):
        handle = FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
    else:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the with below
    with handle:
        while block := handle.read(chunk):
            digest.update(block)
            size += len(block)
    return {"path": path, "sha256": digest.hexdigest(), "bytes": size}
