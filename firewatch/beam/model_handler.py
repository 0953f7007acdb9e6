"""RunInference model handler for Firewatch's exported SavedModel.

`FirewatchModelHandler` loads the exported model once per worker process (Beam shares it
across threads) and scores batches of frames through the model's float signature
(`predict_images`). An element is one frame's regions, float32 [R, S, S, 3]
(`firewatch.core.regions`; R = 1 for a frame scored whole): the regions of every frame in a
batch go to the model together, and each frame gets back its R probabilities (`RegionOutputs`; with
the fire maps of a model that has the optional `locate_images` signature, from the same call). Batches are
capped in frames (`max_batch_size`) and in regions (`max_batch_regions`, Beam's batch
weight), so a batch of 1080p frames stays a bounded amount of memory. With
`max_batch_duration_secs` (streaming on Dataflow, `--max-batch-wait-seconds`) Beam batches across
bundles, waiting at most that long: Dataflow's streaming bundles hold about one frame, which would
leave a GPU idle. Wrap it in
`KeyedModelHandler` to carry each frame's metadata through inference. TensorFlow places
the model on a GPU when the worker has one and on the CPU otherwise; nothing else changes.

`loader(model_dir)` may replace the real loader (tests): it returns any object with
`predict_images(float32 [N,S,S,3]) -> [N]` and `metadata.model_version`.

With `registry` (`firewatch stream --model-registry`), the model handed to `run_inference` is the
process's `ModelFollower` (`firewatch.beam.model_follower`), which follows the registry's `current`
pointer while the job runs; each batch takes the follower's current model once, so every frame is
scored by exactly one version, named in its result (`model_id`) with that version's threshold.

With `pointer=SHADOW` the handler scores for shadow scoring (`firewatch.beam.shadow`): its follower
follows the registry's `shadow` pointer, may hold no model (the pointer unset: each frame's result is
then None, counted), and its batch sizes and swaps are reported apart from the main model's
(`SHADOW_EVENTS`, the `firewatch.shadow` Beam namespace).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from firewatch.core.regions import RegionOutputs
from firewatch.core.registry import CURRENT

# Batch sizes this process sent to the model (size -> calls): the local runner prints them when it
# stops (its metrics API does not aggregate a running streaming job's distributions).
BATCH_SIZES: Counter[int] = Counter()
_SIZES_LOCK = threading.Lock()
# Registry follower events of this process ("swaps", "load_failures"), printed the same way; on
# Dataflow the Beam counters firewatch.model/swaps and firewatch.model/load_failures report them.
MODEL_EVENTS: Counter[str] = Counter()
# The same for shadow scoring ("swaps", "load_failures", "frames_without_shadow", "frames_scored",
# "failed_batches"), so the main model's figures stay its own.
SHADOW_EVENTS: Counter[str] = Counter()


_PRELOADED: dict[str, Any] = {}
_PRELOAD_LOCK = threading.Lock()


def load_scoring_model(model_dir: str) -> Any:
    """The exported model, on the GPU when there is one (taking its memory as needed, not all of it)."""
    from firewatch.cloud.models import allow_gpu_memory_growth, load_exported

    allow_gpu_memory_growth()
    return load_exported(model_dir)


def preload(model_dir: str, image_size: int) -> None:
    """Load the scoring model and trace its first call now (the local runner calls it before the
    pipeline reads a message), so the first burst does not wait seconds for the model to load;
    the handler's `load_model` then takes it instead of loading it again."""
    import numpy as np

    model = load_scoring_model(model_dir)
    model.predict_images(np.zeros((1, image_size, image_size, 3), np.float32))
    with _PRELOAD_LOCK:
        _PRELOADED[model_dir] = model


class FirewatchModelHandler(ModelHandler[np.ndarray, PredictionResult, Any]):
    def __init__(
        self,
        model_dir: str,
        *,
        min_batch_size: int = 1,
        max_batch_size: int = 256,
        max_batch_duration_secs: float = 0.0,
        loader: Callable[[str], Any] | None = None,
        registry: str | None = None,
        image_size: int = 0,
        refresh_seconds: float = 10.0,
        pointer: str = CURRENT,
    ) -> None:
        super().__init__()
        self._pointer = pointer
        self._shadow = pointer != CURRENT
        self._namespace = namespace = "firewatch.shadow" if self._shadow else "firewatch"
        self._model_dir = model_dir
        self._loader = loader
        self._registry = registry
        self._image_size = image_size
        self._refresh_seconds = refresh_seconds
        self._batch: dict[str, Any] = {
            "min_batch_size": min_batch_size,
            "max_batch_size": max_batch_size,
            "element_size_fn": regions_in,
        }
        if max_batch_duration_secs > 0:  # batches across bundles (Beam's stateful BatchElements)
            self._batch["max_batch_duration_secs"] = max_batch_duration_secs
        self._batch_sizes = Metrics.distribution(namespace, "inference_batch_size")
        self._swaps = Metrics.counter(namespace if self._shadow else "firewatch.model", "swaps")
        self._load_failures = Metrics.counter(namespace if self._shadow else "firewatch.model", "load_failures")
        self._without_model = Metrics.counter(namespace, "frames_without_shadow_version")

    def load_model(self) -> Any:
        if self._registry is None:
            return self._load(self._model_dir)
        from firewatch.beam.model_follower import ModelFollower, shared_follower

        registry, pointer = self._registry, self._pointer

        def make() -> ModelFollower:
            follower = ModelFollower(
                registry,
                image_size=self._image_size,
                loader=self._load_version,
                initial=None if self._shadow else self._load(self._model_dir),
                refresh_seconds=self._refresh_seconds,
                pointer=pointer,
                clears=self._shadow,
            )
            if self._shadow:  # the version `shadow` names now (if any), loaded before the first batch;
                follower.check_now()  # a failure is logged and counted, and the job runs on
            return follower

        return shared_follower(registry, make, pointer)

    def _load(self, model_dir: str) -> Any:
        if self._loader is not None:
            return self._loader(model_dir)
        with _PRELOAD_LOCK:
            preloaded = _PRELOADED.pop(model_dir, None)  # handed over once: Beam's Shared keeps it
        return preloaded if preloaded is not None else load_scoring_model(model_dir)

    def _load_version(self, model_dir: str) -> Any:
        """A registry version, ready to score: loaded and its first call traced (off the scoring path)."""
        model = self._loader(model_dir) if self._loader is not None else load_scoring_model(model_dir)
        size = int(getattr(model.metadata, "image_size", self._image_size) or 1)
        model.predict_images(np.zeros((1, size, size, 3), np.float32))
        return model

    def _serving(self, model: Any) -> Any:
        """The model that scores this batch: the follower's current one (its counts become counters)."""
        from firewatch.beam.model_follower import ModelFollower

        if not isinstance(model, ModelFollower):
            return model
        swaps, failures = model.take_counts()
        if swaps:
            self._swaps.inc(swaps)
        if failures:
            self._load_failures.inc(failures)
        events = {name: n for name, n in (("swaps", swaps), ("load_failures", failures)) if n}
        if events:
            with _SIZES_LOCK:
                (SHADOW_EVENTS if self._shadow else MODEL_EVENTS).update(events)
        return model.current()

    def run_inference(
        self, batch: Sequence[np.ndarray], model: Any, inference_args: dict[str, Any] | None = None
    ) -> Iterable[PredictionResult]:
        model = self._serving(model)  # one version for the whole batch
        if model is None:  # shadow scoring while `shadow` names no version: nothing to score
            self._without_model.inc(len(batch))
            with _SIZES_LOCK:
                SHADOW_EVENTS["frames_without_shadow"] += len(batch)
            return [PredictionResult(example, None, model_id=None) for example in batch]
        frames = [as_regions(x) for x in batch]
        counts = [len(x) for x in frames]
        self._batch_sizes.update(sum(counts))  # what actually reaches the model (docs/real-time.md)
        with _SIZES_LOCK:
            if self._shadow:
                SHADOW_EVENTS["frames_scored"] += len(batch)
            else:
                BATCH_SIZES[sum(counts)] += 1
        images = np.concatenate(frames).astype(np.float32, copy=False)
        probabilities, maps = self._score(model, images)
        version = model.metadata.model_version
        threshold = getattr(model.metadata, "threshold", None)
        ends = np.cumsum(counts)
        return [
            PredictionResult(
                example,
                RegionOutputs(
                    probabilities[end - count : end].astype(np.float32),
                    None if maps is None else maps[end - count : end],
                    threshold=None if threshold is None else float(threshold),
                ),
                model_id=version,
            )
            for example, count, end in zip(batch, counts, ends, strict=True)
        ]

    def _score(self, model: Any, images: np.ndarray) -> tuple[np.ndarray, Any]:
        """(probabilities, fire maps or None) of the regions, at most `max_batch_size` per model call:
        Beam's stateful batching (`max_batch_duration_secs`) counts frames, not regions, so a batch
        of many-region frames is split here to keep each call a bounded amount of memory."""
        limit = self._batch["max_batch_size"]
        probabilities, maps = [], []
        for start in range(0, len(images), limit):
            chunk = images[start : start + limit]
            if getattr(model, "locates", False):  # one call: the probabilities and where each region fired
                chunk_probabilities, chunk_maps = model.locate_images(chunk)
                maps.append(np.asarray(chunk_maps))
            else:
                chunk_probabilities = model.predict_images(chunk)
            probabilities.append(np.asarray(chunk_probabilities))
        return np.concatenate(probabilities), (np.concatenate(maps) if maps else None)

    def get_num_bytes(self, batch: Sequence[np.ndarray]) -> int:
        return sum(x.nbytes for x in batch)

    def get_metrics_namespace(self) -> str:
        return self._namespace

    def batch_elements_kwargs(self) -> dict[str, Any]:
        return dict(self._batch)


def as_regions(example: np.ndarray) -> np.ndarray:
    """A frame's model input as regions [R, S, S, 3] (a single [S, S, 3] input is one region)."""
    example = np.asarray(example)
    return example[None] if example.ndim == 3 else example


def regions_in(element: Any) -> int:
    """Batch weight of an element: its number of regions (a keyed element is (key, regions))."""
    if isinstance(element, tuple):
        element = element[1]
    shape = np.shape(element)
    return int(shape[0]) if len(shape) == 4 else 1
