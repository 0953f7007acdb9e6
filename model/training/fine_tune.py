"""Fine-tuning job: an exported model + operators' feedback -> a new model version, with a before/after report.

1. `model.training.restore` rebuilds the old model's Keras graph with its trained weights;
2. the feedback export (`model.data.feedback_data`) is split by alert: the training side joins the
   base train split (each frame repeated `feedback_weight` times), the held-out side is kept
   for the report;
3. a few epochs at a low learning rate (mobilenet_v2: the head and blocks `fine_tune_from_block`..18);
4. the threshold is chosen again on the base valid split (the scores moved), and the model is
   exported through the normal export path (`model.export.export`: a new model version; the metadata
   names the model it came from and the feedback it saw);
5. `model.evaluation.feedback_report` compares old and new on the held-out feedback frames and the base
   test split; `feedback_evaluation.json` and `feedback_split.json` go next to the export.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from firewatch.cloud.storage import is_remote
from model.architectures.backbones import BACKBONES
from model.config import FineTuneConfig
from model.data.feedback_data import SPLIT_FILE, load_feedback, training_pairs
from model.errors import ModelError
from model.evaluation.feedback_report import REPORT_FILE, compare
from model.export.files import write_json_files
from model.metrics import binary_metrics, choose_threshold


@dataclass
class FineTuneResult:
    metadata: dict
    report: dict
    split: dict
    seconds: float


def _same_folder(a: str, b: str) -> bool:
    if is_remote(a) or is_remote(b):
        return a.rstrip("/") == b.rstrip("/")
    return os.path.realpath(a) == os.path.realpath(b)


def fine_tune(config: FineTuneConfig) -> FineTuneResult:
    from firewatch.cloud.models import load_exported
    from model.data.dataset import eval_dataset, local_data_dir, train_dataset
    from model.export.export import export_model
    from model.training.restore import restore_keras_model
    from model.training.train import compile_model, feedback_counts, predict_split, seed_everything

    if _same_folder(config.output, config.model):
        raise ModelError(f"--output {config.output} is the model being fine-tuned: give a new folder")
    started = time.perf_counter()
    split = load_feedback(config.feedback, config.feedback_holdout)
    if not split.train:
        raise ModelError(
            f"all {len(split.heldout)} feedback frames in {config.feedback} fall in the held-out share "
            f"({config.feedback_holdout}): nothing to train on; lower --feedback-holdout or judge more alerts"
        )
    seed_everything(config.seed)
    restored = restore_keras_model(config.model)
    model, old = restored.model, restored.exported
    meta = old.metadata
    data_dir = local_data_dir(config.data)
    train_ds, n_train = train_dataset(
        data_dir,
        meta.image_size,
        config.batch_size,
        config.seed,
        config.augment,
        config.augment_strength,
        config.colour_augment,
        extra=training_pairs(split.train),
        extra_weight=config.feedback_weight,
    )
    unfreeze = BACKBONES[meta.backbone].unfreeze
    if unfreeze is not None:
        unfreeze(restored.base, config.fine_tune_from_block)
    compile_model(model, config.learning_rate, -(-n_train // config.batch_size) * config.epochs)
    valid_ds = eval_dataset(data_dir, "valid", meta.image_size, config.batch_size)
    history = model.fit(train_ds, validation_data=valid_ds, epochs=config.epochs, verbose=config.verbose).history
    labels, probs = predict_split(model, data_dir, "valid", meta.image_size, config.batch_size)
    threshold = choose_threshold(labels, probs, config.target_recall)
    valid_metrics = binary_metrics(labels, probs, threshold)
    valid_metrics["target_recall"] = config.target_recall
    split_summary = split.summary()
    metadata = export_model(
        model,
        config.output,
        image_size=meta.image_size,
        threshold=threshold,
        backbone=meta.backbone,
        data_description=f"{meta.data_description}; fine-tuned with operators' feedback ({config.feedback})",
        metrics={
            "valid": valid_metrics,
            "train_images": n_train,
            "epochs": config.epochs,
            "fine_tuned_from": meta.model_version,
            "feedback": feedback_counts(split, config.feedback_weight),
        },
    )
    new = load_exported(config.output)
    report = compare(old, new, split, data_dir, config.batch_size)
    report["history"] = {k: [float(v) for v in values] for k, values in history.items()}
    write_json_files(config.output, {REPORT_FILE: report, SPLIT_FILE: split_summary})
    return FineTuneResult(metadata.model_dump(), report, split_summary, time.perf_counter() - started)
