"""The fetch step against an object store that fails: transient errors (503, 429, timeouts, dropped
connections) are retried with backoff and cost no valid frame; permanent ones (not found,
forbidden, too large) become dead letters at once, without retries."""

from __future__ import annotations

import io

import pytest
import requests
from apache_beam import pvalue
from google.api_core import exceptions as gexc

from firewatch.beam.fetch_decode import FetchObjects
from firewatch.cloud import storage
from firewatch.core.contract import FrameRequest, MessageLimits

URI = "gs://frames/cam-1/0001.png"


class FlakyStore:
    """An opener that raises the given failures first, then serves `data`; counts the calls."""

    def __init__(self, failures: list[BaseException], data: bytes = b"\x89PNG frame bytes") -> None:
        self.failures, self.data, self.calls = list(failures), data, 0

    def __call__(self, uri: str):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return io.BytesIO(self.data)


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda _: None)


def fetch(store: FlakyStore, max_object_bytes: int = 1000) -> list:
    fn = FetchObjects(MessageLimits(max_object_bytes=max_object_bytes), "streaming", opener=store)
    return list(fn.process(FrameRequest(camera_id="cam-1", uri=URI, message_id="m1")))


@pytest.mark.parametrize(
    "blip",
    [
        gexc.ServiceUnavailable("503 backend unavailable"),
        gexc.TooManyRequests("429 rate limited"),
        requests.ConnectionError("connection reset by peer"),
        TimeoutError("read timed out"),
        OSError("HTTP 503 from storage"),
    ],
    ids=["503", "429", "connection", "timeout", "oserror-503"],
)
def test_a_blip_does_not_cost_a_valid_frame(blip):
    store = FlakyStore([blip, blip])
    (out,) = fetch(store)
    assert not isinstance(out, pvalue.TaggedOutput) and out.image_bytes == store.data
    assert store.calls == 3


@pytest.mark.parametrize(
    "failure, kind",
    [
        (gexc.NotFound("404 No such object: frames/cam-1/0001.png"), "object_not_found"),
        (FileNotFoundError("gs://frames/cam-1/0001.png"), "object_not_found"),
        (gexc.Forbidden("403 caller does not have storage.objects.get access"), "object_forbidden"),
    ],
)
def test_permanent_failures_are_dead_letters_without_retries(failure, kind):
    store = FlakyStore([failure])
    (out,) = fetch(store)
    assert isinstance(out, pvalue.TaggedOutput) and out.value["error_type"] == kind
    assert out.value["stage"] == "fetch" and out.value["message_id"] == "m1" and store.calls == 1


def test_too_large_is_a_dead_letter():
    (out,) = fetch(FlakyStore([], data=b"x" * 2000), max_object_bytes=1000)
    assert out.value["error_type"] == "object_too_large"


def test_an_outage_that_outlasts_the_retries_is_a_replayable_dead_letter():
    store = FlakyStore([gexc.ServiceUnavailable("503")] * 10)
    (out,) = fetch(store)
    assert out.value["error_type"] == "object_unavailable" and "replay" in out.value["reason"]
    assert store.calls == 6 and out.value["source_uri"] == URI


def test_failure_kinds():
    assert storage.failure_kind(gexc.InternalServerError("500")) == "transient"
    assert storage.failure_kind(ValueError("bad")) == "ValueError"
