"""The TFRecord contract: tf.train.Example features, stable ids and the deterministic split.

Feature keys: `image/encoded` (bytes), `image/format` (bytes, e.g. "jpeg"), `label`
(bytes "fire"/"no_fire"), `label_index` (int64, no_fire=0, fire=1), `id` (bytes: sha256
hex of the encoded bytes) and `source_path` (bytes). The split is a pure function of the
id, so re-running ingest gives the same split.
"""

from __future__ import annotations

import hashlib

CLASS_NAMES = ("no_fire", "fire")
LABEL_INDEX = {name: i for i, name in enumerate(CLASS_NAMES)}
SPLITS = ("train", "valid", "test")
TFRECORD_SUFFIX = ".tfrecord"
SHARD_TEMPLATE = "-SSSSS-of-NNNNN"


def image_id(encoded: bytes) -> str:
    """Stable id of an image: sha256 hex of its encoded bytes."""
    return hashlib.sha256(encoded).hexdigest()


def split_for_id(id_: str) -> str:
    """bucket = int(sha256(id)) % 100: <80 train, <90 valid, else test."""
    bucket = int(hashlib.sha256(id_.encode("ascii")).hexdigest(), 16) % 100
    return "train" if bucket < 80 else "valid" if bucket < 90 else "test"


def make_example(encoded: bytes, fmt: str, label: str, source_path: str, id_: str | None = None) -> bytes:
    """Serialized tf.train.Example for one labelled image."""
    import tensorflow as tf

    if label not in LABEL_INDEX:
        raise ValueError(f"unknown label {label!r}; expected one of {list(CLASS_NAMES)}")

    def b(value: bytes) -> tf.train.Feature:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    feature = {
        "image/encoded": b(encoded),
        "image/format": b(fmt.lower().encode()),
        "label": b(label.encode()),
        "label_index": tf.train.Feature(int64_list=tf.train.Int64List(value=[LABEL_INDEX[label]])),
        "id": b((id_ or image_id(encoded)).encode()),
        "source_path": b(source_path.encode()),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def feature_spec() -> dict:
    import tensorflow as tf

    return {
        "image/encoded": tf.io.FixedLenFeature([], tf.string),
        "image/format": tf.io.FixedLenFeature([], tf.string, default_value=""),
        "label": tf.io.FixedLenFeature([], tf.string),
        "label_index": tf.io.FixedLenFeature([], tf.int64),
        "id": tf.io.FixedLenFeature([], tf.string),
        "source_path": tf.io.FixedLenFeature([], tf.string, default_value=""),
    }


def parse_example(serialized) -> dict:
    """Parse one serialized Example (a tf.string tensor or bytes) into a dict of tensors."""
    import tensorflow as tf

    return tf.io.parse_single_example(serialized, feature_spec())


def split_pattern(data_dir: str, split: str) -> str:
    """Glob of the TFRecord shards of one split under an ingest output directory."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {list(SPLITS)}")
    return f"{data_dir.rstrip('/')}/{split}-*-of-*{TFRECORD_SUFFIX}"
