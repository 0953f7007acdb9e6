"""Liveness of a local streaming job, for a supervisor: a heartbeat file and its verdict.

While `firewatch stream --heartbeat-file F` runs, a thread rewrites F (JSON, atomically) every few
seconds with when the job last pulled from its subscription (a pull that answered, empty or not)
and when it last wrote a row (acknowledged a message). `verdict` judges it: alive when the file
itself is fresh (the process runs) and the last pull is fresh (it reads); a job that stopped
reading, or that never read since it started, goes stale after `max_age` seconds even though the
process is still up. `firewatch liveness F` prints the verdict and exits 0 (alive) or 1 (stale):
a Docker HEALTHCHECK, a Kubernetes exec probe or a systemd watchdog script can call it. On Dataflow
the equivalent is a Cloud Monitoring alert on the job's `system_lag` / `data_watermark_age` and the
subscription's `oldest_unacked_message_age` (docs/runbook.md, "3. Watch").
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

INTERVAL_SECONDS = 5.0


def snapshot(trackers: list[Any], started_at: float, subscription: str, now: float) -> dict[str, Any]:
    """The heartbeat's content from the read trackers (`firewatch.localrun.pubsub.AckTracker`)."""
    pulls = [t.last_pull_at for t in trackers if t.last_pull_at is not None]
    acks = [t.last_ack_at for t in trackers if t.last_ack_at is not None]
    return {
        "pid": os.getpid(),
        "subscription": subscription,
        "started_at": started_at,
        "written_at": now,
        "last_pull_at": max(pulls) if pulls else None,
        "last_row_written_at": max(acks) if acks else None,
        "in_flight": sum(t.in_flight() for t in trackers),
        "rows_written": sum(t.acked for t in trackers),
    }


def write(path: str | Path, data: dict[str, Any]) -> None:
    """Replace the file at once (a reader never sees half of it)."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, sort_keys=True))
    os.replace(tmp, target)


def verdict(data: dict[str, Any], now: float, max_age: float) -> tuple[bool, str]:
    """(alive, one line saying why) for a heartbeat read at `now`."""
    written = now - float(data["written_at"])
    if written > max_age:
        return False, f"stale: the heartbeat was last written {written:.0f} s ago (pid {data.get('pid')})"
    last_pull = data.get("last_pull_at")
    if last_pull is None:
        since = now - float(data["started_at"])
        if since > max_age:
            return False, f"stale: no pull from {data.get('subscription')} in the {since:.0f} s since the job started"
        return True, f"starting: no pull yet ({since:.0f} s since start)"
    pulled = now - float(last_pull)
    if pulled > max_age:
        return False, f"stale: the last pull from {data.get('subscription')} answered {pulled:.0f} s ago"
    rows = data.get("last_row_written_at")
    wrote = "no row written yet" if rows is None else f"last row written {now - float(rows):.0f} s ago"
    return True, f"alive: last pull {pulled:.0f} s ago, {wrote}, {data.get('in_flight', 0)} in flight"


def read_verdict(path: str | Path, max_age: float, now: float | None = None) -> tuple[bool, str]:
    """The verdict of the heartbeat file at path (a missing or unreadable file is stale)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        return False, f"stale: no readable heartbeat at {path} ({exc})"
    return verdict(data, time.time() if now is None else now, max_age)


def start(
    path: str | Path, content: Callable[[], dict[str, Any]], interval: float = INTERVAL_SECONDS
) -> threading.Event:
    """Write `content()` to path now and every `interval` seconds until the returned event is set."""
    stop = threading.Event()

    def beat() -> None:
        while True:
            try:
                write(path, content())
            except OSError:  # a full disk must not stop the job; the heartbeat goes stale instead
                pass
            if stop.wait(interval):
                return

    threading.Thread(target=beat, name="firewatch-heartbeat", daemon=True).start()
    return stop
