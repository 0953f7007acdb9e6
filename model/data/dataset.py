"""tf.data input pipelines over the ingest TFRecords: decode, augment, `firewatch.core.imaging.preprocess`.

Training and serving share one preprocessing definition: the encoded bytes are decoded
with `tf.io.decode_image(channels=3, expand_animations=False)` exactly as in the exported
graph, then (training only) a random resized crop is taken on the uint8 image, then
`preprocess` resizes to `image_size` and scales to [0, 1], then flips and
brightness/contrast jitter are applied. All randomness is seeded (stateless ops driven by
a seeded random stream) and small training sets are ordered by id, so a training run
is reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence

from firewatch.cloud.storage import download_dir, is_remote
from firewatch.core.records import SPLITS, parse_example, split_pattern
from model.errors import EmptySplitError

CROP_AREA = (0.55, 1.0)
CROP_ASPECT = (0.8, 1.25)


def local_data_dir(data_dir: str) -> str:
    """TF here has no gs:// support: copy a remote TFRecord folder to local disk first."""
    return download_dir(data_dir) if is_remote(data_dir) else data_dir


def split_files(data_dir: str, split: str) -> list[str]:
    import tensorflow as tf

    files = sorted(tf.io.gfile.glob(split_pattern(data_dir, split)))
    if not files:
        raise FileNotFoundError(
            f"no {split} TFRecords in {data_dir} (expected {split}-*-of-*.tfrecord); run `firewatch data ingest`"
        )
    return files


def _count_records(files: list[str]) -> int:
    import tensorflow as tf

    return sum(1 for _ in tf.data.TFRecordDataset(files))


def _has_records(files: list[str]) -> bool:
    import tensorflow as tf

    return any(True for _ in tf.data.TFRecordDataset(files).take(1))


def empty_split_error(data_dir: str, split: str) -> EmptySplitError:
    """The error for a split without images: names it, lists what ingest wrote per split, says what to do."""
    import tensorflow as tf

    per_split = []
    for name in SPLITS:
        files = sorted(tf.io.gfile.glob(split_pattern(data_dir, name)))
        per_split.append(f"{name} {_count_records(files) if files else 0}")
    return EmptySplitError(
        f"the {split} split in {data_dir} has no images (images ingested per split: {', '.join(per_split)}). "
        "Ingest assigns about 80% of the images to train, 10% to valid and 10% to test, so small image "
        "folders leave splits empty: add more images to ROOT/fire and ROOT/no_fire (at least a few dozen "
        "of each) and run `firewatch data ingest` again"
    )


def nonempty_split_files(data_dir: str, split: str) -> list[str]:
    """`split_files`, raising `EmptySplitError` when the shards hold no records (ingest writes empty shards)."""
    files = split_files(data_dir, split)
    if not _has_records(files):
        raise empty_split_error(data_dir, split)
    return files


def decode(encoded):
    import tensorflow as tf

    image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def augment(image, image_size: int, seeds, strength: float = 1.0, colour: bool = False):
    """uint8 [H,W,3] -> float32 [S,S,3] in [0,1] with random resized crop, flip, brightness/contrast.

    `strength` scales the crop, brightness and contrast ranges (1.0: the defaults above; tuned by `firewatch tune`).
    `colour` adds saturation and small hue jitter, and turns a fifth of the images grey, so that the model
    cannot rely on warm colour alone (a flame's shape and texture must carry the decision).
    """
    import tensorflow as tf

    from firewatch.core.imaging import preprocess

    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image),
        bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
        seed=seeds[0],
        min_object_covered=0.0,
        aspect_ratio_range=(CROP_ASPECT[0] ** strength, CROP_ASPECT[1] ** strength),
        area_range=(1.0 - (1.0 - CROP_AREA[0]) * strength, CROP_AREA[1]),
        max_attempts=10,
        use_image_if_no_bounding_boxes=True,
    )
    image = tf.slice(image, begin, size)
    x = preprocess(image, image_size)
    x = tf.image.stateless_random_flip_left_right(x, seed=seeds[1])
    x = tf.image.stateless_random_brightness(x, 0.12 * strength, seed=seeds[2])
    x = tf.image.stateless_random_contrast(x, 1.0 - 0.2 * strength, 1.0 + 0.2 * strength, seed=seeds[3])
    if colour:
        x = tf.image.stateless_random_saturation(tf.clip_by_value(x, 0.0, 1.0), 0.6, 1.4, seed=seeds[1][::-1])
        x = tf.image.stateless_random_hue(x, 0.03, seed=seeds[2][::-1])
        grey = tf.image.grayscale_to_rgb(tf.image.rgb_to_grayscale(x))
        x = tf.where(tf.random.stateless_uniform([], seed=seeds[3][::-1]) < 0.2, grey, x)
    return tf.clip_by_value(x, 0.0, 1.0)


IN_MEMORY_LIMIT_BYTES = 512 * 2**20


def _ordered_records(files: list[str]):
    """(encoded, label) pairs; small sets are sorted by id so runs do not depend on shard order."""
    import os

    import tensorflow as tf

    def pairs(ds):
        return ds.map(parse_example).map(lambda ex: (ex["id"], ex["image/encoded"], ex["label_index"]))

    if sum(os.path.getsize(f) for f in files) > IN_MEMORY_LIMIT_BYTES:
        return pairs(tf.data.TFRecordDataset(files)).map(lambda i, e, y: (e, tf.cast(y, tf.float32))).cache()
    rows = sorted((i.numpy(), e.numpy(), int(y)) for i, e, y in pairs(tf.data.TFRecordDataset(files)))
    return tf.data.Dataset.from_tensor_slices(([r[1] for r in rows], tf.constant([r[2] for r in rows], tf.float32)))


def train_dataset(
    data_dir: str,
    image_size: int,
    batch_size: int,
    seed: int,
    augment_images: bool = True,
    strength: float = 1.0,
    colour: bool = False,
    extra: Sequence[tuple[bytes, float]] = (),
    extra_weight: int = 1,
):
    """Shuffled, augmented (unless `augment_images` is False or `strength` 0), batched (images, labels)
    for one epoch; reshuffled every epoch. `extra` (encoded, label) pairs, e.g. operators' feedback
    frames (`model.data.feedback_data`), join the train split `extra_weight` times each (oversampling without
    copying the bytes) and go through the same decode/augment/preprocess."""
    import tensorflow as tf

    from firewatch.core.imaging import preprocess

    files = split_files(data_dir, "train")
    records = _ordered_records(files)
    n = sum(1 for _ in records)
    if n == 0:
        raise empty_split_error(data_dir, "train")
    if extra:
        labels = tf.constant([float(y) for _, y in extra], tf.float32)
        records = records.concatenate(
            tf.data.Dataset.from_tensor_slices(([e for e, _ in extra], labels)).repeat(extra_weight)
        )
        n += len(extra) * extra_weight
    ds = records.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    if augment_images and strength > 0:
        rand = (
            tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
            .batch(8)
            .map(lambda r: tf.reshape(r, [4, 2]))
        )
        ds = tf.data.Dataset.zip(ds, rand).map(
            lambda enc_label, seeds: (augment(decode(enc_label[0]), image_size, seeds, strength, colour), enc_label[1]),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
    else:
        ds = ds.map(
            lambda enc, label: (preprocess(decode(enc), image_size), label),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE), n


def eval_dataset(data_dir: str, split: str, image_size: int, batch_size: int, with_meta: bool = False):
    """Un-augmented batches of (images, labels) or, with_meta, dicts with id/source_path too."""
    import tensorflow as tf

    from firewatch.core.imaging import preprocess

    def convert(ex):
        item = {
            "images": preprocess(decode(ex["image/encoded"]), image_size),
            "labels": tf.cast(ex["label_index"], tf.float32),
        }
        if with_meta:
            item.update(id=ex["id"], source_path=ex["source_path"])
        return item if with_meta else (item["images"], item["labels"])

    ds = (
        tf.data.TFRecordDataset(nonempty_split_files(data_dir, split))
        .map(parse_example)
        .map(convert, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    )
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
