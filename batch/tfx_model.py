"""The tf.Example serving model that tfx-bsl's RunInference loads (`--inference-engine tfx-bsl`).

tfx-bsl 1.21 loads a SavedModel through TensorFlow's TF1 loader and feeds its signature a batch of
serialized tf.Examples. MODEL_DIR's Keras-3 export cannot be loaded that way (its variables are not
found), so this module re-wraps it: `tf.saved_model.load(MODEL_DIR)` inside a `tf.Module` whose
`serving_default(examples: tf.string [None])` parses the ingest's `image/encoded` feature
(`firewatch.core.records`), decodes with `tf.io.decode_image(channels=3, expand_animations=False)`
and preprocesses with `firewatch.core.imaging.preprocess` (the ops today's Python decode path runs,
so the pixels are the same), calls the model's float signature and returns `fire_probability`.

It is built on demand, once per model: `tf_example_model(MODEL_DIR)` writes it to
`MODEL_DIR/tf_example/` (for a gs:// MODEL_DIR, built locally and uploaded, so Dataflow workers
read it; for a read-only local MODEL_DIR, in the temp folder) with `source.json` naming the model
it wraps; a re-exported model (another saved_model.pb) gets a fresh wrapper. A local build is
written to a temporary folder and renamed into place, so parallel jobs never see half a model.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile

from firewatch.cloud.models import read_metadata
from firewatch.cloud.storage import download_dir, is_remote, read_bytes, upload_dir
from firewatch.core.contract import first_line
from firewatch.core.model_contract import FLOAT_SIGNATURE
from firewatch.errors import ModelError

SUBDIR = "tf_example"
SOURCE_FILE = "source.json"
SIGNATURE = "serving_default"
INPUT_NAME = "examples"
OUTPUT_NAME = "fire_probability"
IMAGE_FEATURE = "image/encoded"


def _read(path: str) -> bytes:
    if is_remote(path):
        return read_bytes(path)
    with open(path, "rb") as f:
        return f.read()


def source_fingerprint(model_dir: str) -> dict[str, str]:
    """What identifies the wrapped model: its version and the sha256 of its saved_model.pb."""
    digest = hashlib.sha256(_read(f"{model_dir.rstrip('/')}/saved_model.pb")).hexdigest()
    return {"model_version": read_metadata(model_dir).model_version, "saved_model_sha256": digest}


def _is_current(target: str, fingerprint: dict[str, str]) -> bool:
    try:
        return json.loads(_read(f"{target}/{SOURCE_FILE}")) == fingerprint and bool(_read(f"{target}/saved_model.pb"))
    except (OSError, ValueError):
        return False


def build_tf_example_model(model_dir: str, target: str) -> None:
    """Write the tf.Example SavedModel wrapping MODEL_DIR (a local folder) to `target` (local)."""
    import tensorflow as tf

    from firewatch.core.imaging import preprocess

    size = read_metadata(model_dir).image_size
    loaded = tf.saved_model.load(model_dir)
    float_fn = loaded.signatures[FLOAT_SIGNATURE]

    class ExampleServing(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = loaded  # tracked: its variables are saved with the wrapper

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=INPUT_NAME)])
        def serve(self, examples):
            parsed = tf.io.parse_example(examples, {IMAGE_FEATURE: tf.io.FixedLenFeature([], tf.string)})
            images = tf.map_fn(
                lambda b: preprocess(tf.io.decode_image(b, channels=3, expand_animations=False), size),
                parsed[IMAGE_FEATURE],
                fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32),
            )
            return {OUTPUT_NAME: float_fn(images=images)[OUTPUT_NAME]}

    module = ExampleServing()
    tf.saved_model.save(module, target, signatures={SIGNATURE: module.serve.get_concrete_function()})


def tf_example_model(model_dir: str) -> str:
    """The tf.Example serving model for MODEL_DIR (built now if missing or stale); returns its path."""
    model_dir = model_dir.rstrip("/")
    fingerprint = source_fingerprint(model_dir)
    target = f"{model_dir}/{SUBDIR}"
    if not is_remote(model_dir) and not os.access(model_dir, os.W_OK):  # a read-only model: cache it elsewhere
        cache = os.path.join(tempfile.gettempdir(), f"firewatch-tf-example-{fingerprint['saved_model_sha256'][:16]}")
        os.makedirs(cache, exist_ok=True)
        target = os.path.join(cache, SUBDIR)
    if _is_current(target, fingerprint):
        return target
    local_model = download_dir(model_dir) if is_remote(model_dir) else model_dir
    parent = tempfile.mkdtemp(prefix=".staging-", dir=None if is_remote(model_dir) else os.path.dirname(target))
    try:
        staged = os.path.join(parent, SUBDIR)
        build_tf_example_model(local_model, staged)
        with open(os.path.join(staged, SOURCE_FILE), "w") as f:
            json.dump(fingerprint, f)
        if is_remote(model_dir):
            try:
                upload_dir(staged, target)
            except Exception as exc:  # noqa: BLE001 - e.g. a read-only models bucket (a template's workers)
                raise ModelError(
                    f"cannot write {target} ({first_line(exc)}): the tfx-bsl engine needs the tf.Example model "
                    f"there; run `firewatch batch --inference-engine tfx-bsl` once with write access to {model_dir}, "
                    "or use --inference-engine firewatch"
                ) from None
        else:
            if os.path.isdir(target):
                shutil.rmtree(target, ignore_errors=True)  # stale: built for an earlier export
            try:
                os.rename(staged, target)
            except OSError:  # another job renamed its build into place first: use that one
                if not _is_current(target, fingerprint):
                    raise
    finally:
        shutil.rmtree(parent, ignore_errors=True)
    return target
