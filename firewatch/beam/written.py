"""Who is told when rows are written: listeners registered in this process, called by the BigQuery
sink with the rows a table took (`firewatch.beam.sinks`, streaming predictions and dead letters).

On the local runner the Pub/Sub read registers its acknowledgement here
(`firewatch.localrun.pubsub.install`): a message is acknowledged once its row is written. On
Dataflow nothing registers (the service acknowledges after its own checkpoint), so
`rows_written` does nothing. The sink depends on this hook, never on the local-runner code.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Listener = Callable[[Sequence[Mapping[str, Any]]], Any]

_LOCK = threading.Lock()
_LISTENERS: tuple[Listener, ...] = ()


def on_rows_written(listener: Listener) -> None:
    """Call `listener(rows)` after each write of rows in this process (registered once)."""
    global _LISTENERS
    with _LOCK:
        if listener not in _LISTENERS:
            _LISTENERS = (*_LISTENERS, listener)


def listeners() -> tuple[Listener, ...]:
    return _LISTENERS


def rows_written(rows: Sequence[Mapping[str, Any]]) -> None:
    """Tell every listener about rows just written (nothing to do where none is registered)."""
    for listener in _LISTENERS:
        listener(rows)
