"""Small JSON files written next to an export in a local or gs:// MODEL_DIR (reports, splits)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile

from firewatch.cloud.storage import is_remote, upload_dir


def write_json_files(model_dir: str, files: dict[str, dict]) -> None:
    """Write small JSON files into a local or gs:// MODEL_DIR."""
    local = tempfile.mkdtemp(prefix="firewatch-json-") if is_remote(model_dir) else model_dir
    for name, content in files.items():
        with open(os.path.join(local, name), "w") as f:
            json.dump(content, f, indent=2)
    if is_remote(model_dir):
        upload_dir(local, model_dir)
        shutil.rmtree(local, ignore_errors=True)
