"""Retries with exponential backoff (and jitter) around one delivery attempt."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from firewatch.notify.channels import ChannelError


def backoff_delays(attempts: int, initial_s: float, max_s: float) -> list[float]:
    """The waits between `attempts` tries, before jitter: initial, 2x, 4x, ... capped at `max_s`."""
    return [min(max_s, initial_s * 2**i) for i in range(max(attempts - 1, 0))]


def with_retries(
    attempt: Callable[[], None],
    *,
    attempts: int,
    initial_s: float,
    max_s: float,
    sleep: Callable[[float], None] = time.sleep,
    jitter: Callable[[], float] = random.random,
) -> tuple[int, ChannelError | None]:
    """Run `attempt` until it succeeds, fails permanently or `attempts` are spent.
    Returns (tries made, the last error or None on success)."""
    delays = backoff_delays(attempts, initial_s, max_s)
    for tries in range(1, attempts + 1):
        try:
            attempt()
            return tries, None
        except ChannelError as exc:
            if exc.permanent or tries == attempts:
                return tries, exc
            sleep(delays[tries - 1] * (0.5 + jitter() / 2))
    raise AssertionError("unreachable")  # pragma: no cover
