"""Edge fixtures: the demo model's TFLite variants, exported once per session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def demo_tflite(demo_model_dir: Path, demo_tfrecords_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from edge.config import ExportTFLiteConfig
    from edge.tflite_export import export_tflite

    out = tmp_path_factory.mktemp("tflite")
    config = ExportTFLiteConfig(
        model=str(demo_model_dir), data=str(demo_tfrecords_dir), output=str(out), representative_count=100
    )
    return {"dir": out, "table": export_tflite(config)}
