"""The model a running job scores with when it follows a registry (`firewatch stream --model-registry`).

`ModelFollower` holds the loaded model of the version the registry's `current` pointer names
(`firewatch.cloud.registry`), one per worker process (`shared_follower`), like the masks' cache
(`firewatch.beam.table_cache`): `current()` never waits; when the last look at the pointer is older
than `refresh_seconds` it starts one background check, which, when the pointer names another
version, loads that version (and traces its first call) while the old one keeps scoring, then swaps
it in with one assignment. The handler takes `current()` once per batch, so every frame is scored by
exactly one version, and its row says which (`PredictionResult.model_id`); nothing in the graph
changes, so no frame is lost or scored twice and keyed state (confirmation, open alerts) is untouched.

A version that fails to load (missing files, a broken SavedModel, another input size than the job
was started with) is not switched to: the failure is logged and counted (`take_counts`; the handler
turns the counts into the Beam counters `firewatch.model/swaps` and `firewatch.model/load_failures`)
and the old version keeps serving. The same version is tried again only after `retry_seconds` (or
when the pointer names another version and then it again), so a broken promotion costs one load.

The same code runs on Dataflow: each worker process reads the pointer (one small gs:// read every
`refresh_seconds`). Beam's own mechanism (RunInference's `model_metadata_pcoll` fed by
`WatchFilePattern`) is not used: `WatchFilePattern` is built on PeriodicImpulse, which Beam 2.77's
local streaming runner refuses (see `firewatch.beam.table_cache`), it watches for new files matching a
glob rather than a pointer (so a rollback, which names an older folder, is not a new file), and it
swaps by calling `update_model_path` on the handler, which our keyed, preloading handler would have to
re-implement; the follower gives both runners the same behaviour and the same failure handling.

Shadow scoring (`firewatch.beam.shadow`) follows the `shadow` pointer with the same class
(`pointer=SHADOW`, `clears=True`): it may start with no model (`initial=None`: the pointer is unset),
and an emptied pointer (`firewatch model shadow REGISTRY none`) stops it (`current()` is None).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from firewatch.core.registry import CURRENT

_LOG = logging.getLogger(__name__)


class ModelFollower:
    """The model the registry's `current` names, in this process; see the module docstring.

    `loader(model_dir)` loads a version's folder (the handler's loader: the real one traces its first
    call too); `image_size` is the running job's input size, which a new version must keep. `pointer`
    is the pointer followed (`current`, or `shadow`); with `clears`, an empty pointer means no model."""

    def __init__(
        self,
        registry: str,
        *,
        image_size: int,
        loader: Callable[[str], Any],
        initial: Any,
        refresh_seconds: float = 10.0,
        retry_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        read_pointer: Callable[[str], str | None] | None = None,
        pointer: str = CURRENT,
        clears: bool = False,
    ) -> None:
        self.registry = registry
        self._image_size = image_size
        self._loader = loader
        self._refresh_seconds = refresh_seconds
        self._retry_seconds = retry_seconds
        self._clock = clock
        self.pointer = pointer
        self._clears = clears
        self._read_pointer = read_pointer or functools.partial(_read_pointer, pointer=pointer)
        self._lock = threading.Lock()
        self._model = initial
        self._checked_at = clock()
        self._checking: threading.Thread | None = None
        self._failed: dict[str, float] = {}  # version -> when its load failed
        self.swaps = 0
        self.failures = 0
        self.last_error: str | None = None
        self._reported = (0, 0)

    @property
    def version(self) -> str | None:
        return None if self._model is None else str(self._model.metadata.model_version)

    def current(self) -> Any:
        """The model to score the next batch with (None: the pointer names none, `clears` only);
        starts a background check of the pointer when due."""
        with self._lock:
            due = self._clock() - self._checked_at >= self._refresh_seconds
            if due and (self._checking is None or not self._checking.is_alive()):
                self._checked_at = self._clock()
                self._checking = threading.Thread(target=self.check_now, name="firewatch-model-follower", daemon=True)
                self._checking.start()
            return self._model

    def take_counts(self) -> tuple[int, int]:
        """(swaps, load failures) since the last call, for the caller's Beam counters."""
        with self._lock:
            swaps, failures = self.swaps - self._reported[0], self.failures - self._reported[1]
            self._reported = (self.swaps, self.failures)
            return swaps, failures

    def check_now(self) -> bool:
        """Read the pointer and, when it names another version, load and swap it in (in this thread).
        True when the model serving afterwards is the one the pointer names."""
        try:
            wanted = self._read_pointer(self.registry)
        except Exception as exc:  # noqa: BLE001 - unreadable pointer: keep serving, try again later
            _LOG.warning(
                "model registry %s: cannot read `%s` (keeping %s): %s", self.registry, self.pointer, self.version, exc
            )
            return False
        if not wanted and self._clears and self._model is not None:
            with self._lock:
                previous, self._model = self.version, None
            _LOG.info("model registry %s: `%s` unset, no longer scoring with %s", self.registry, self.pointer, previous)
            return False
        if not wanted or wanted == self.version:
            return bool(wanted)
        failed_at = self._failed.get(wanted)
        if failed_at is not None and self._clock() - failed_at < self._retry_seconds:
            return False
        try:
            model = self._load(wanted)
        except Exception as exc:  # noqa: BLE001 - any load failure: the old version keeps serving
            with self._lock:
                self.failures += 1
                self.last_error = f"{wanted}: {type(exc).__name__}: {exc}"[:500]
                self._failed[wanted] = self._clock()
            _LOG.warning(
                "model registry %s: version %s failed to load, still scoring with %s: %s",
                self.registry,
                wanted,
                self.version,
                self.last_error,
            )
            return False
        with self._lock:
            previous, self._model = self.version, model
            self.swaps += 1
            self._failed.pop(wanted, None)
        _LOG.info("model registry %s: `%s` now scores with %s (was %s)", self.registry, self.pointer, wanted, previous)
        return True

    def _load(self, version: str) -> Any:
        from firewatch.cloud.registry import version_dir

        model = self._loader(version_dir(self.registry, version))
        metadata = model.metadata
        if str(metadata.model_version) != version:
            raise ValueError(f"its firewatch_model.json says model_version {metadata.model_version}, not {version}")
        size = getattr(metadata, "image_size", self._image_size)
        if size != self._image_size:
            raise ValueError(
                f"its input size {size} differs from the running job's {self._image_size} (restart the job for that)"
            )
        return model


def _read_pointer(registry: str, pointer: str) -> str | None:
    from firewatch.cloud.registry import read_pointer

    return read_pointer(registry, pointer)


_FOLLOWERS: dict[str, ModelFollower] = {}
_FOLLOWERS_LOCK = threading.Lock()


def shared_follower(registry: str, make: Callable[[], ModelFollower], pointer: str = CURRENT) -> ModelFollower:
    """The one follower of this worker process for `registry`'s `pointer` (`make()` builds it the first time)."""
    key = f"{registry}#{pointer}"
    with _FOLLOWERS_LOCK:
        if key not in _FOLLOWERS:
            _FOLLOWERS[key] = make()
        return _FOLLOWERS[key]
