"""`firewatch export-tflite`: float32, float16, dynamic-range int8 and full-integer int8 TFLite models
from one exported SavedModel, and a comparison table (Markdown + JSON) on a TFRecord split.

All variants are converted from the same graph: the SavedModel's `predict_images` signature
(float32 `preprocess` output in, fire probability out), wrapped to a batch-1 function that
returns only the probability and frozen (variables -> constants). Full-integer conversion
needs that frozen concrete function (`from_concrete_functions`): given the model directly,
calibration fails on READ_VARIABLE ops. Its representative data are un-augmented images of
the training split, drawn at random; its input and output are int8 (scale/zero point in the tensor details).
Decoding stays outside the graph. Each .tflite carries the SavedModel's metadata (see
`edge.litert`). The table reports size, accuracy / recall / ROC AUC, decisions that differ
from the SavedModel and LiteRT latency per image, per variant.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from edge.config import ExportTFLiteConfig
from edge.litert import embed_metadata, load_tflite, sidecar_path
from model.metrics import binary_metrics

TABLE_MD = "comparison.md"
TABLE_JSON = "comparison.json"


def frozen_probability_function(float_fn, image_size: int):
    """The SavedModel's float signature as a frozen batch-1 function `images -> fire_probability`."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    @tf.function(input_signature=[tf.TensorSpec([1, image_size, image_size, 3], tf.float32, name="images")])
    def fire_probability(images):
        return {"fire_probability": float_fn(images=images)["fire_probability"]}

    return convert_variables_to_constants_v2(fire_probability.get_concrete_function())


def convert(frozen_fn, variant: str, representative: np.ndarray | None = None) -> bytes:
    """One TFLite flatbuffer of the frozen function for `variant`."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen_fn])
    if variant == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "dynamic_int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif variant == "full_int8":
        if representative is None or len(representative) == 0:
            raise ValueError("full_int8 needs representative images")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([image[None]] for image in representative)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    elif variant != "float32":
        raise ValueError(f"unknown TFLite variant {variant!r}")
    return converter.convert()


def take_images(data_dir: str, split: str, image_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(images float32 [N,S,S,3], labels [N]) of a whole split, un-augmented, in file order."""
    from model.data.dataset import eval_dataset

    images, labels = [], []
    for x, y in eval_dataset(data_dir, split, image_size, 64):
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images), np.concatenate(labels).astype(np.int64)


def representative_images(data_dir: str, image_size: int, count: int, seed: int = 0) -> np.ndarray:
    """`count` un-augmented training images drawn at random (seeded) from the whole split.

    Ingest writes shards grouped by label, so the first N records may be a single class; a
    calibration set of one class gives the logit a one-sided range and saturates the other.
    """
    import tensorflow as tf

    from firewatch.core.imaging import preprocess
    from firewatch.core.records import parse_example
    from model.data.dataset import decode, nonempty_split_files

    ds = (
        tf.data.TFRecordDataset(nonempty_split_files(data_dir, "train"))
        .shuffle(100_000, seed=seed, reshuffle_each_iteration=False)
        .take(count)
        .map(lambda r: preprocess(decode(parse_example(r)["image/encoded"]), image_size))
        .batch(64)
    )
    return np.concatenate([x.numpy() for x in ds])


def dir_size(path: str) -> int:
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)


def time_per_image(predict_one, images: Iterable[np.ndarray], runs: int) -> tuple[np.ndarray, float]:
    """Predictions and the median milliseconds per image over `runs` passes (after one warm-up call)."""
    images = list(images)
    predict_one(images[0])
    times, probs = [], []
    for run in range(runs):
        for image in images:
            t = time.perf_counter()
            p = predict_one(image)
            times.append(time.perf_counter() - t)
            if run == 0:
                probs.append(p)
    return np.asarray(probs, np.float32), float(np.median(times) * 1000)


def row(
    name: str, size: int, labels: np.ndarray, probs: np.ndarray, reference: np.ndarray, threshold: float, ms: float
) -> dict[str, Any]:
    m = binary_metrics(labels, probs, threshold)
    return {
        "variant": name,
        "size_bytes": size,
        "accuracy": m["accuracy"],
        "recall": m["recall"],
        "precision": m["precision"],
        "roc_auc": m["roc_auc"],
        "decisions_differing_from_savedmodel": int(np.sum((probs >= threshold) != (reference >= threshold))),
        "max_abs_probability_difference": float(np.max(np.abs(probs - reference))) if len(probs) else 0.0,
        "latency_ms_per_image": ms,
    }


def export_tflite(config: ExportTFLiteConfig) -> dict[str, Any]:
    """Write OUTPUT/firewatch-<variant>.tflite (+ .json sidecars) and the comparison table; return the table."""
    import tensorflow as tf

    from firewatch.cloud.models import load_exported
    from model.data.dataset import local_data_dir

    exported = load_exported(config.model)
    meta = exported.metadata
    s, threshold = meta.image_size, meta.threshold
    data_dir = local_data_dir(config.data)
    os.makedirs(config.output, exist_ok=True)
    frozen = frozen_probability_function(exported.float_fn, s)
    representative = None
    if "full_int8" in config.variants:
        representative = representative_images(data_dir, s, config.representative_count)
    images, labels = take_images(data_dir, config.split, s)

    reference, saved_ms = time_per_image(
        lambda x: float(exported.float_fn(images=tf.constant(x[None]))["fire_probability"].numpy()[0]),
        images,
        config.latency_runs,
    )
    rows = [row("savedmodel", dir_size(exported.local_dir), labels, reference, reference, threshold, saved_ms)]
    rows[0]["file"] = config.model
    for variant in config.variants:
        path = os.path.join(config.output, f"firewatch-{variant}.tflite")
        metadata = {
            **meta.model_dump(),
            "tflite_variant": variant,
            "source_model_dir": config.model,
            "input": {
                "name": "images",
                "shape": [1, s, s, 3],
                "range": [0.0, 1.0],
                "preprocess": "firewatch.core.imaging",
            },
        }
        content = embed_metadata(convert(frozen, variant, representative), metadata)
        with open(path, "wb") as f:
            f.write(content)
        with open(sidecar_path(path), "w") as f:
            json.dump(metadata, f, indent=2, sort_keys=True)
        model = load_tflite(path, config.num_threads)
        probs, ms = time_per_image(model.predict_one, images, config.latency_runs)
        rows.append(row(variant, model.size_bytes, labels, probs, reference, threshold, ms) | {"file": path})
    float32 = next((r["size_bytes"] for r in rows if r["variant"] == "float32"), None)
    for r in rows:
        r["size_ratio_to_float32_tflite"] = (float32 / r["size_bytes"]) if float32 else None
        r["latency_ratio_to_savedmodel"] = r["latency_ms_per_image"] / saved_ms if saved_ms else None
    table = {
        "model_version": meta.model_version,
        "threshold": threshold,
        "image_size": s,
        "split": config.split,
        "count": int(len(labels)),
        "data": config.data,
        "data_description": meta.data_description,
        "representative_count": 0 if representative is None else int(len(representative)),
        "num_threads": config.num_threads,
        "latency": "median ms per image at batch 1 (decode and preprocess excluded), this machine",
        "rows": rows,
    }
    with open(os.path.join(config.output, TABLE_JSON), "w") as f:
        json.dump(table, f, indent=2)
    with open(os.path.join(config.output, TABLE_MD), "w") as f:
        f.write(format_table(table))
    return table


def format_table(table: dict[str, Any]) -> str:
    lines = [
        f"TFLite variants of {table['model_version']} on the {table['split']} split "
        f"({table['count']} images; {table['data_description']}), threshold {table['threshold']:.4f}, "
        f"LiteRT with {table['num_threads']} thread(s)",
        "",
        "| variant | size KiB | x smaller than float32 | accuracy | recall | ROC AUC "
        "| decisions != SavedModel | max abs p diff | ms / image |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table["rows"]:
        ratio = r["size_ratio_to_float32_tflite"]
        auc = r["roc_auc"]
        lines.append(
            f"| {r['variant']} | {r['size_bytes'] / 1024:.0f} | {'' if ratio is None else f'{ratio:.2f}'} "
            f"| {r['accuracy']:.4f} | {r['recall']:.4f} | {'n/a' if auc is None else f'{auc:.4f}'} "
            f"| {r['decisions_differing_from_savedmodel']} | {r['max_abs_probability_difference']:.4f} "
            f"| {r['latency_ms_per_image']:.3f} |"
        )
    return "\n".join(lines) + "\n"
