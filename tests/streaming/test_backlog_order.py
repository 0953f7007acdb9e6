"""A backlog read at once still confirms in capture order, with the default explanation policy.

Frames published before the job starts arrive in one pull. The per-camera explanation gate (keyed
state, default rate limit) must not hold a camera's fire frames back behind its clear ones: if it
did, confirmation would count the clear frames first and find the fire frames too late to count,
and the fire would never alert (seen before every prediction took the gate's path)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from streaming.local import start_stream, stop_stream
from tests.fixtures.controlled_model import colour_png
from tests.fixtures.streaming_helpers import FrameBatch, count, stream_args, wait_until
from tests.streaming.test_faults import publish

pytestmark = pytest.mark.stack


def test_a_backlog_with_fire_opens_its_alert_with_the_default_explanation_policy(
    gcp_resources, controlled_model_dir, tmp_path
):
    names = gcp_resources
    dataset = f"{names.project}.{names.dataset}"
    rng = np.random.default_rng(5)
    batch = FrameBatch(t0=datetime.now(UTC) - timedelta(minutes=5))
    fires = [False] * 3 + [True] * 6 + [False] * 8
    for i, fire in enumerate(fires):
        batch.frame("cam-backlog", i, colour_png(rng, fire=fire))
    publish(names, batch)  # before the job starts: one backlog
    job = start_stream(controlled_model_dir, tmp_path / "stream.log", stream_args(names))
    alive = lambda: job.poll() is None  # noqa: E731
    try:
        deadline = time.monotonic() + 240
        assert wait_until(lambda: count(f"{dataset}.predictions") >= len(fires), deadline, alive)
        assert wait_until(lambda: count(f"{dataset}.alerts", "event = 'open'") >= 1, deadline, alive), (
            "the fire in the backlog never opened an alert"
        )
    finally:
        stop_stream(job)
    assert count(f"{dataset}.predictions", "label = 'fire'") == 6
