"""A background thread that serves waiting requests in batches: the explain step's cross-frame batching.

Callers (DoFn instances on several runner threads) `submit(key, item, fn)` and wait on the returned
future; the worker takes the oldest waiting request and every other waiting request with the same
`key`, up to `max_batch`, and calls `fn(items)` once for all of them (`fn` returns one result per
item, in order). When frames arrive one at a time a batch is one frame: nothing waits for a batch
to fill. When `fn` raises on a batch of several, each item is retried alone, so one bad item fails
only its own future.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

BatchFn = Callable[[Sequence[Any]], Sequence[Any]]


@dataclass
class _Request:
    key: Hashable
    item: Any
    fn: BatchFn
    future: Future = field(default_factory=Future)


class BatchingWorker:
    """One daemon thread; `initializer` runs first on it (e.g. to lower its CPU priority)."""

    def __init__(self, max_batch: int, initializer: Callable[[], None] | None = None, name: str = "batching") -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.max_batch = max_batch
        self.batch_sizes: list[int] = []  # every batch served, for tests and the benchmark (bounded)
        self._initializer = initializer
        self._pending: deque[_Request] = deque()
        self._ready = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, key: Hashable, item: Any, fn: BatchFn) -> Future:
        request = _Request(key, item, fn)
        with self._ready:
            self._pending.append(request)
            self._ready.notify()
        return request.future

    def take(self) -> list[_Request]:
        """The oldest waiting request and the waiting ones with its key (order kept), at most `max_batch`."""
        with self._ready:
            while not self._pending:
                self._ready.wait()
            first = self._pending.popleft()
            batch, rest = [first], deque()
            while self._pending:
                request = self._pending.popleft()
                if request.key == first.key and len(batch) < self.max_batch:
                    batch.append(request)
                else:
                    rest.append(request)
            self._pending = rest
            return batch

    def _run(self) -> None:
        if self._initializer is not None:
            self._initializer()
        while True:
            batch = self.take()
            if len(self.batch_sizes) < 100_000:
                self.batch_sizes.append(len(batch))
            serve(batch)


def serve(batch: list[_Request]) -> None:
    """Run the batch's function once; on failure, each item alone (the failing ones get the exception)."""
    try:
        results = batch[0].fn([request.item for request in batch])
        if len(results) != len(batch):
            raise RuntimeError(f"batch function returned {len(results)} results for {len(batch)} items")
    except Exception as exc:  # noqa: BLE001 - handed to the callers through their futures
        if len(batch) == 1:
            batch[0].future.set_exception(exc)
            return
        for request in batch:
            serve([request])
        return
    for request, result in zip(batch, results, strict=True):
        request.future.set_result(result)
