"""The demo model: synth (+ real-photo hard negatives) -> ingest -> train -> export in one call, skipped if built.

Used by `firewatch model demo`, the streaming/batch demos and the tests' `demo_model_dir`
fixture. Fire examples are synthetic procedural frames only (the metadata says so). When
`make real-negatives` has prepared `artifacts/real-negatives/train`, crops of those real
photographs without fire are added as hard negatives (the held-out part never is); the recipe
(`DEMO_*` below) was chosen from the table in the README ("False alarms on real scenes").
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from firewatch.core.model_contract import METADATA_FILE
from model.config import IngestConfig, TrainConfig

DEMO_COUNT = 1600
DEMO_EPOCHS = 8
DEMO_BACKBONE = "small_cnn"
DEMO_REAL_CROPS_PER_PHOTO = 12
DEMO_COLOUR_AUGMENT = False
REAL_NEGATIVES_TRAIN = Path(__file__).resolve().parents[1] / "artifacts" / "real-negatives" / "train"
DEMO_DESCRIPTION = "synthetic procedural demo data (model.synth); not trained on real fire photographs"


def describe(real_crops: int) -> str:
    if real_crops:
        return f"{DEMO_DESCRIPTION}; plus {real_crops} crops of real photographs without fire as hard negatives"
    return f"{DEMO_DESCRIPTION}; no real-photo hard negatives (run `make real-negatives` first)"


def ensure_demo_model(
    model_dir: str | Path,
    *,
    count: int = DEMO_COUNT,
    epochs: int = DEMO_EPOCHS,
    seed: int = 0,
    force: bool = False,
    verbose: int = 0,
    backbone: str = DEMO_BACKBONE,
    real_negatives: str | Path | None = REAL_NEGATIVES_TRAIN,
    real_crops_per_photo: int = DEMO_REAL_CROPS_PER_PHOTO,
    colour_augment: bool = DEMO_COLOUR_AUGMENT,
    fine_tune_epochs: int = 1,
) -> Path:
    """Build the demo model into model_dir unless `model_dir/firewatch_model.json` exists."""
    from model.ingest import run_ingest
    from model.real_negatives import write_training_crops
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
    real_crops = 0
    if real_negatives is not None and real_crops_per_photo > 0 and Path(real_negatives).is_dir():
        real_crops = write_training_crops(real_negatives, work / "images" / "no_fire", real_crops_per_photo, 192, seed)
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
            backbone=backbone,
            colour_augment=colour_augment,
            fine_tune_epochs=fine_tune_epochs,
            work_dir=str(work / "training"),
            data_description=describe(real_crops),
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
