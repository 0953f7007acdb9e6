"""Training job: tf.data over the ingest TFRecords -> Keras model -> threshold on valid -> export.

`small_cnn` trains from scratch (about a minute on CPU for the demo set); `mobilenet_v2`
trains a new head on the frozen ImageNet backbone, then fine-tunes the top blocks with a
10x lower learning rate. With more than one visible GPU the model is built under
`tf.distribute.MirroredStrategy`. With `feedback` (a `firewatch data from-feedback` folder) the
training side of its alert-wise split (`model.data.feedback_data`) joins the train split, oversampled
`feedback_weight` times, and the split is written next to the export as `feedback_split.json`.
Keras prints its progress bar; per-epoch weight
checkpoints and the history go to the work dir (default `<output>.training`), and the
history is also saved next to the export as `training_history.json`.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass

import numpy as np

from firewatch.cloud.storage import is_remote
from model.architectures.backbones import BACKBONES
from model.config import TrainConfig
from model.data.dataset import eval_dataset, local_data_dir, train_dataset
from model.data.feedback_data import SPLIT_FILE, load_feedback, training_pairs
from model.export.export import export_model
from model.export.files import write_json_files
from model.metrics import binary_metrics, choose_threshold, recall_at_precision

HISTORY_FILE = "training_history.json"
TUNING_METRIC = "valid_recall_at_precision"  # the metric `firewatch tune` and Vertex AI tuning maximise


@dataclass
class TrainResult:
    metadata: dict
    valid_metrics: dict
    history: dict
    seconds: float
    train_images: int
    images_per_second: float


def seed_everything(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(seed)  # python, numpy and TF global seeds


def distribution_strategy():
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


def report_tuning_metric(value: float, step: int) -> None:
    """Report the tuning metric the way Vertex AI hyperparameter tuning reads it (cloudml-hypertune;
    it writes to $CLOUD_ML_HP_METRIC_FILE, default /tmp/hypertune/output.metrics)."""
    import hypertune

    hypertune.HyperTune().report_hyperparameter_tuning_metric(
        hyperparameter_metric_tag=TUNING_METRIC, metric_value=float(value), global_step=int(step)
    )


def predict_split(model, data_dir: str, split: str, image_size: int, batch_size: int):
    labels, probs = [], []
    for images, y in eval_dataset(data_dir, split, image_size, batch_size):
        probs.append(np.asarray(model(images, training=False)).reshape(-1))
        labels.append(y.numpy())
    return np.concatenate(labels), np.concatenate(probs)


def compile_model(model, learning_rate: float, decay_steps: int) -> None:
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps, alpha=0.02)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="binary_crossentropy",
        metrics=["accuracy", keras.metrics.Recall(name="recall"), keras.metrics.AUC(name="auc")],
        jit_compile=False,
    )  # XLA measured slower on 2 CPU cores


def feedback_counts(split, weight: int) -> dict:
    """What the model metadata records about the feedback it was trained with."""
    return {"train_frames": len(split.train), "heldout_frames": len(split.heldout), "weight": weight,
            "holdout": split.holdout, "folder": split.root}  # fmt: skip


def train(config: TrainConfig) -> TrainResult:
    started = time.perf_counter()
    seed_everything(config.seed)
    data_dir = local_data_dir(config.data)
    feedback = load_feedback(config.feedback, config.feedback_holdout) if config.feedback else None
    train_ds, n_train = train_dataset(
        data_dir,
        config.image_size,
        config.batch_size,
        config.seed,
        config.augment,
        config.augment_strength,
        config.colour_augment,
        extra=training_pairs(feedback.train) if feedback else (),
        extra_weight=config.feedback_weight,
    )
    valid_ds = eval_dataset(data_dir, "valid", config.image_size, config.batch_size)
    work_dir = config.work_dir or (
        tempfile.mkdtemp(prefix="firewatch-train-") if is_remote(config.output) else f"{config.output}.training"
    )
    model, history, total_epochs = _fit(config, train_ds, valid_ds, -(-n_train // config.batch_size), work_dir)
    train_seconds = time.perf_counter() - started
    valid_metrics = _valid_metrics(model, data_dir, config, total_epochs)
    with open(os.path.join(work_dir, HISTORY_FILE), "w") as f:
        json.dump(history, f, indent=2)
    metadata = export_model(
        model,
        config.output,
        image_size=config.image_size,
        threshold=valid_metrics["threshold"],
        backbone=config.backbone,
        data_description=config.data_description,
        metrics={"valid": valid_metrics, "train_images": n_train, "epochs": total_epochs}
        | ({"feedback": feedback_counts(feedback, config.feedback_weight)} if feedback else {}),
    )
    if not is_remote(config.output):
        with open(os.path.join(config.output, HISTORY_FILE), "w") as f:
            json.dump(history, f, indent=2)
    if feedback:
        write_json_files(config.output, {SPLIT_FILE: feedback.summary()})
    return TrainResult(
        metadata.model_dump(),
        valid_metrics,
        history,
        time.perf_counter() - started,
        n_train,
        n_train * total_epochs / max(train_seconds, 1e-6),
    )


def _fit(config: TrainConfig, train_ds, valid_ds, steps_per_epoch: int, work_dir: str):
    """Build the backbone and fit it (then its fine-tuning phase, if it has one): (model, history, epochs)."""
    import keras

    os.makedirs(os.path.join(work_dir, "checkpoints"), exist_ok=True)
    callbacks = [
        keras.callbacks.ModelCheckpoint(
            os.path.join(work_dir, "checkpoints", "epoch-{epoch:02d}.weights.h5"), save_weights_only=True
        ),
        keras.callbacks.CSVLogger(os.path.join(work_dir, "history.csv"), append=True),
    ]
    backbone = BACKBONES[config.backbone]
    strategy = distribution_strategy()  # one strategy for building and re-compiling the model
    with strategy.scope():
        model, base = backbone.build(config.image_size, config.dropout)
        compile_model(model, config.learning_rate, steps_per_epoch * config.epochs)
    history: dict[str, list[float]] = {}

    def fit(epochs: int, initial_epoch: int = 0) -> None:
        h = model.fit(
            train_ds,
            validation_data=valid_ds,
            epochs=initial_epoch + epochs,
            initial_epoch=initial_epoch,
            callbacks=callbacks,
            verbose=config.verbose,
        )
        for key, values in h.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)

    fit(config.epochs)
    fine_tunes = backbone.unfreeze is not None
    if fine_tunes and config.fine_tune_epochs > 0:
        with strategy.scope():
            backbone.unfreeze(base, config.fine_tune_from_block)
            compile_model(model, config.learning_rate / 10, steps_per_epoch * config.fine_tune_epochs)
        fit(config.fine_tune_epochs, initial_epoch=config.epochs)
    return model, history, config.epochs + (config.fine_tune_epochs if fine_tunes else 0)


def _valid_metrics(model, data_dir: str, config: TrainConfig, total_epochs: int) -> dict:
    """The threshold chosen on the valid split and the metrics there (reported to a tuner if asked)."""
    labels, probs = predict_split(model, data_dir, "valid", config.image_size, config.batch_size)
    threshold = choose_threshold(labels, probs, config.target_recall)
    valid_metrics = binary_metrics(labels, probs, threshold)
    valid_metrics["target_recall"] = config.target_recall
    valid_metrics["target_precision"] = config.target_precision
    valid_metrics[TUNING_METRIC] = recall_at_precision(labels, probs, config.target_precision)
    if config.report_hypertune:
        report_tuning_metric(valid_metrics[TUNING_METRIC], total_epochs)
    return valid_metrics
