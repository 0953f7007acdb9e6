"""The demo model: synth + real-photo regions -> ingest -> train -> hard negatives -> export, skipped if built.

Used by `firewatch model demo`, the streaming/batch demos and the tests' `demo_model_dir`
fixture. Fire examples are synthetic procedural flames only (the metadata says so): whole synthetic
frames (`model.data.synth`) and, since serving scores full-resolution regions
(`firewatch.core.regions`), REGIONS of real photographs without fire with a procedural flame pasted
in (`model.data.regions_data`, `model.data.composite`), cut the way serving cuts them. When `make
real-negatives` has prepared `artifacts/real-negatives/train`, its photos give crops and regions
without fire as negatives, and after training, the model's own highest-scoring regions of clear train
frames (hard negatives) join a short second pass at a lower learning rate (the held-out part is never
used). The recipe (`DEMO_*` below) was chosen with `scripts/bench_small_fire.py` and
`scripts/bench_real_negatives.py`.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from firewatch.core.model_contract import METADATA_FILE
from model.config import IngestConfig, TrainConfig

DEMO_COUNT = 1600
DEMO_EPOCHS = 7
DEMO_BACKBONE = "small_cnn"
DEMO_REAL_CROPS_PER_PHOTO = 8
DEMO_COLOUR_AUGMENT = False
DEMO_REGION_FRAMES_PER_PHOTO = 8  # frames per train photo cut into region examples (model.data.regions_data)
DEMO_HARD_NEGATIVES = 600  # the model's top-scoring regions of clear train frames, for the second pass
DEMO_HARD_WEIGHT = 4  # each hard negative is repeated this many times in the second pass
DEMO_HARD_EPOCHS = 2
DEMO_HARD_MINING_FRAMES = 4  # clear frames per train photo whose regions are all scored for mining
DEMO_HARD_LEARNING_RATE = 5e-4
# The threshold: a frame is flagged if ANY of its regions fires, so it is set on clear TRAIN frames
# scored as serving scores them (at most DEMO_FRAMES_FLAGGED of them flagged), between the valid
# thresholds for recall `target_recall` (floor) and DEMO_LOWEST_VALID_RECALL (ceiling).
DEMO_CALIBRATION_FRAMES = 2  # clear frames per train photo (other crops than the mined ones)
DEMO_FRAMES_FLAGGED = 0.01
DEMO_LOWEST_VALID_RECALL = 0.9
REAL_NEGATIVES_TRAIN = Path(__file__).resolve().parents[1] / "artifacts" / "real-negatives" / "train"
DEMO_DESCRIPTION = "synthetic procedural demo data (model.data.synth); not trained on real fire photographs"


def describe(real_crops: int, regions: dict[str, int] | None = None, hard: int = 0) -> str:
    if not real_crops and not regions:
        return f"{DEMO_DESCRIPTION}; no real-photo hard negatives (run `make real-negatives` first)"
    text = f"{DEMO_DESCRIPTION}; plus {real_crops} crops of real photographs without fire as hard negatives"
    if regions:
        text += (
            f"; plus {regions['fire']} full-resolution regions of real photographs with a procedural flame pasted in "
            f"(fire) and {regions['no_fire']} without (no fire)"
        )
    if hard:
        text += f"; then a second pass with the model's {hard} top-scoring regions of clear real photographs"
    return text


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
    region_frames_per_photo: int = DEMO_REGION_FRAMES_PER_PHOTO,
    hard_negatives: int = DEMO_HARD_NEGATIVES,
    hard_epochs: int = DEMO_HARD_EPOCHS,
    target_recall: float = 0.98,
) -> Path:
    """Build the demo model into model_dir unless `model_dir/firewatch_model.json` exists."""
    from model.data.ingest import run_ingest
    from model.data.real_negatives import write_training_crops
    from model.data.synth import write_dataset
    from model.training.train import train

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
    have_photos = real_negatives is not None and Path(real_negatives).is_dir()
    regions = None
    if have_photos and region_frames_per_photo > 0:
        from model.data.regions_data import write_region_examples

        regions = write_region_examples(real_negatives, work / "images", region_frames_per_photo, seed=seed)
    timings["regions"] = time.perf_counter() - t
    t = time.perf_counter()
    run_ingest(IngestConfig(input=str(work / "images"), output=str(work / "tfrecords"), num_shards=1))
    timings["ingest"] = time.perf_counter() - t
    t = time.perf_counter()
    tmp_out = model_dir.parent / f"{model_dir.name}.tmp"
    shutil.rmtree(tmp_out, ignore_errors=True)
    config = TrainConfig(
        data=str(work / "tfrecords"),
        output=str(tmp_out),
        epochs=epochs,
        seed=seed,
        backbone=backbone,
        colour_augment=colour_augment,
        fine_tune_epochs=fine_tune_epochs,
        target_recall=target_recall,
        work_dir=str(work / "training"),
        data_description=describe(real_crops, regions),
        verbose=verbose,
    )
    train(config)
    timings["train"] = time.perf_counter() - t
    if have_photos and hard_negatives > 0 and hard_epochs > 0:
        t = time.perf_counter()
        hard_negative_pass(
            config, real_negatives, hard_negatives, hard_epochs, describe(real_crops, regions, hard_negatives)
        )
        timings["hard_negatives"] = time.perf_counter() - t
    if model_dir.exists():
        shutil.rmtree(model_dir)
    tmp_out.rename(model_dir)  # the model appears atomically, metadata included
    (work / "timings.txt").write_text("".join(f"{k} {v:.1f}s\n" for k, v in timings.items()))
    return model_dir


def hard_negative_pass(config: TrainConfig, photos: str | Path, top: int, epochs: int, description: str) -> dict:
    """Second pass over the exported model in `config.output`: its `top` highest-scoring regions of clear
    TRAIN photos (`model.data.regions_data.mine_hard_negatives`) join the train split (`DEMO_HARD_WEIGHT` times
    each) for `epochs` at a lower learning rate; the threshold is chosen again (`DEMO_FRAMES_FLAGGED`); re-exported
    in place."""
    import json

    from model.data.dataset import train_dataset
    from model.data.regions_data import clear_frame_maxima, frame_threshold, mine_hard_negatives
    from model.export.export import export_model
    from model.metrics import binary_metrics
    from model.training.restore import restore_keras_model
    from model.training.train import compile_model, predict_split, seed_everything

    seed_everything(config.seed + 1)
    restored = restore_keras_model(config.output, config.dropout)
    model, meta = restored.model, restored.exported.metadata
    hard, summary = mine_hard_negatives(
        model, photos, frames_per_photo=DEMO_HARD_MINING_FRAMES, top=top, seed=config.seed
    )
    train_ds, n_train = train_dataset(
        config.data,
        meta.image_size,
        config.batch_size,
        config.seed + 1,
        config.augment,
        config.augment_strength,
        config.colour_augment,
        extra=[(data, 0.0) for data in hard],
        extra_weight=DEMO_HARD_WEIGHT,
    )
    compile_model(model, DEMO_HARD_LEARNING_RATE, -(-n_train // config.batch_size) * epochs)
    model.fit(train_ds, epochs=epochs, verbose=config.verbose)
    labels, probs = predict_split(model, config.data, "valid", meta.image_size, config.batch_size)
    maxima = clear_frame_maxima(model, photos, DEMO_CALIBRATION_FRAMES, seed=config.seed + 1)
    threshold, choice = frame_threshold(
        maxima, labels, probs, DEMO_FRAMES_FLAGGED, DEMO_LOWEST_VALID_RECALL, config.target_recall
    )
    valid = binary_metrics(labels, probs, threshold) | {"target_recall": config.target_recall}
    metrics = dict(meta.metrics) | {
        "valid": valid,
        "threshold_choice": choice,
        "first_pass_valid": meta.metrics.get("valid"),
        "hard_negatives": summary | {"weight": DEMO_HARD_WEIGHT, "epochs": epochs},
        "epochs": int(meta.metrics.get("epochs", 0)) + epochs,
    }
    export_model(
        model,
        config.output,
        image_size=meta.image_size,
        threshold=threshold,
        backbone=meta.backbone,
        data_description=description,
        metrics=json.loads(json.dumps(metrics)),
    )
    return summary


def demo_data_dir(model_dir: str | Path) -> Path:
    """TFRecords the demo model was trained on (kept next to it for evaluation)."""
    model_dir = Path(model_dir)
    return model_dir.parent / f"{model_dir.name}.work" / "tfrecords"
