"""The explain step's batching worker: waiting requests are served together, by key, failures alone."""

from __future__ import annotations

import threading
from concurrent.futures import Future

import pytest

from firewatch.beam.batching_worker import BatchingWorker, _Request, serve


def _doubled(items):
    return [2 * item for item in items]


def test_waiting_requests_with_the_same_key_are_served_in_one_call():
    gate, started = threading.Event(), threading.Event()
    calls: list[list[int]] = []

    def blocked_first(items):
        started.set()
        gate.wait(10)  # holds the worker, so the next requests queue up behind it
        calls.append(list(items))
        return _doubled(items)

    def record(items):
        calls.append(list(items))
        return _doubled(items)

    worker = BatchingWorker(max_batch=3)
    first = worker.submit("a", 0, blocked_first)
    assert started.wait(10)
    queued = [worker.submit("a" if i % 2 else "b", i, record) for i in range(1, 8)]
    gate.set()
    assert first.result(10) == 0
    assert [f.result(10) for f in queued] == [2 * i for i in range(1, 8)]
    # Oldest first, same key together, at most 3 per call: a(1,3,5) then b(2,4,6), a(7).
    assert calls == [[0], [1, 3, 5], [2, 4, 6], [7]]
    assert worker.batch_sizes == [1, 3, 3, 1]


def test_a_request_alone_is_served_without_waiting_for_a_batch():
    worker = BatchingWorker(max_batch=64)
    assert worker.submit("k", 21, _doubled).result(10) == 42
    assert worker.batch_sizes == [1]


def test_one_failing_item_fails_only_its_own_future():
    def fails_on_odd(items):
        if any(item % 2 for item in items):
            raise ValueError("odd item")
        return _doubled(items)

    batch = [_Request("k", item, fails_on_odd) for item in (2, 3, 4)]
    serve(batch)
    assert batch[0].future.result(0) == 4 and batch[2].future.result(0) == 8
    with pytest.raises(ValueError, match="odd item"):
        batch[1].future.result(0)


def test_a_batch_function_returning_the_wrong_count_is_an_error_not_a_mismatch():
    request = _Request("k", 1, lambda items: [])
    serve([request])
    assert isinstance(request.future, Future)
    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        request.future.result(0)


def test_max_batch_must_be_positive():
    with pytest.raises(ValueError, match="max_batch"):
        BatchingWorker(max_batch=0)
