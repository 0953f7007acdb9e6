"""Beam's local runner without its largest per-bundle cost: DoFn state specs looked up once per class.

Beam 2.77's `BundleBasedDirectRunner` asks, for every bundle of every ParDo (and again when it
schedules the bundle), whether the DoFn is stateful: `apache_beam.transforms.userstate.get_dofn_specs`
walks `dir(dofn)` and builds an `inspect.signature` for every method. Streaming bundles hold a few
frames each, so on the 2-core machine that introspection was about half of the pipeline process's
CPU time at 16 frames/s (py-spy profile, docs/real-time.md). The answer depends only on the DoFn's
class (state and timer specs are default values of its methods' parameters), so `install()` caches
it per class. DoFns that wrap a callable (`beam.Map`, `beam.FlatMap`, ...) take their parameters
from the callable, not the class: they are never cached.

Installed only for the local runner (`streaming.runner`), like `firewatch.localrun.pubsub`;
Dataflow runs the unchanged graph and never imports this (`firewatch.localrun`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

_LOCK = threading.Lock()
_CACHE: dict[type, tuple[frozenset, frozenset]] = {}
_ORIGINAL: Callable[[Any], tuple[set, set]] | None = None


def cached_dofn_specs(dofn: Any) -> tuple[set, set]:
    """`get_dofn_specs(dofn)`, computed once per DoFn class (callable wrappers: every time)."""
    from apache_beam.transforms.core import CallableWrapperDoFn

    assert _ORIGINAL is not None, "install() first"
    if isinstance(dofn, CallableWrapperDoFn):
        return _ORIGINAL(dofn)
    key = type(dofn)
    specs = _CACHE.get(key)
    if specs is None:
        states, timers = _ORIGINAL(dofn)
        specs = (frozenset(states), frozenset(timers))
        with _LOCK:
            _CACHE[key] = specs
    return set(specs[0]), set(specs[1])


def install() -> None:
    """Replace `userstate.get_dofn_specs` (used by `is_stateful_dofn` and `validate_stateful_dofn`)
    with the per-class cache, once per process."""
    global _ORIGINAL
    from apache_beam.transforms import userstate

    with _LOCK:
        if _ORIGINAL is None:
            _ORIGINAL = userstate.get_dofn_specs
            userstate.get_dofn_specs = cached_dofn_specs


def installed() -> bool:
    return _ORIGINAL is not None
