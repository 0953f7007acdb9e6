"""The demo model: synth -> ingest -> train -> export in one call, skipped if already built.

Used by `firewatch model demo`, the streaming/batch demos and the tests' `demo_model_dir`
fixture. Trained on synthetic procedural data only (the metadata says so).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from firewatch.core.model_contract import METADATA_FILE
from model.config import IngestConfig, TrainConfig

DEMO_COUNT = 1600
DEMO_EPOCHS = 5
DEMO_DESCRIPTION = "synthetic procedural demo data (model.synth); not trained on real fire photographs"


def ensure_demo_model(
    model_dir: str | Path,
    *,
    count: int = DEMO_COUNT,
    epochs: int = DEMO_EPOCHS,
    seed: int = 0,
    force: bool = False,
    verbose: int = 0,
) -> Path:
    """Build the demo model into model_dir unless `model_dir/firewatch_model.json` exists."""
    from model.ingest import run_ingest
    from model.synth import write_dataset
    from model.train import train

    model_dir = Path(model_dir)
    if (model_dir / METADATA_FILE).is_file() and not force:
        return model_dir
    work = model_dir.parent / f"{model_dir.name}.work"
    shutil.rmtree(work, ignore_errors=True)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    write_dataset(work / "images", count, seed)
    timings["synth"] = time.perf_counter() - t
    t = time.perf_counter()
    run_ingest(IngestConfig(input=str(work / "images"), output=str(work / "tfrecords"), num_shards=1))
    timings["ingest"] = time.perf_counter() - t
    t = time.perf_counter()
    tmp_out = model_dir.parent / f"{model_dir.name}.tmp"
    shutil.rmtree(tmp_out, ignore_errors=True)
    train(
        TrainConfig(
            data=str(work / "tfrecords"),
            output=str(tmp_out),
            epochs=epochs,
            seed=seed,
            work_dir=str(work / "training"),
            data_description=DEMO_DESCRIPTION,
            verbose=verbose,
        )
    )
    timings["train"] = time.perf_counter() - t
    if model_dir.exists():
        shutil.rmtree(model_dir)
    tmp_out.rename(model_dir)  # the model appears atomically, metadata included
    (work / "timings.txt").write_text("".join(f"{k} {v:.1f}s\n" for k, v in timings.items()))
    return model_dir


def demo_data_dir(model_dir: str | Path) -> Path:
    """TFRecords the demo model was trained on (kept next to it for evaluation)."""
    model_dir = Path(model_dir)
    return model_dir.parent / f"{model_dir.name}.work" / "tfrecords"
