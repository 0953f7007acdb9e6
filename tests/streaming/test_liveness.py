"""A local streaming job fails loudly and says it is alive (`streaming.preflight`, `streaming.liveness`).

Unit tests judge heartbeats and missing resources with fakes; the stack tests run `firewatch stream`
as a process on the real emulators: a missing subscription ends it before it starts, with one line;
a subscription deleted under a running job ends it with one line and a non-zero exit, and its
heartbeat, alive while it read, goes stale."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from google.api_core.exceptions import NotFound

from streaming.config import StreamingConfig
from streaming.liveness import read_verdict, snapshot, verdict, write
from streaming.preflight import missing


class Tracker:
    def __init__(self, pull: float | None, ack: float | None, in_flight: int = 0, acked: int = 0) -> None:
        self.last_pull_at, self.last_ack_at, self._in_flight, self.acked = pull, ack, in_flight, acked

    def in_flight(self) -> int:
        return self._in_flight


def test_a_heartbeat_is_alive_while_the_job_pulls_and_stale_once_it_stops():
    beat = snapshot([Tracker(1000.0, 990.0, 3, 7), Tracker(None, None)], 900.0, "projects/p/subscriptions/s", 1001.0)
    assert beat["last_pull_at"] == 1000.0 and beat["last_row_written_at"] == 990.0
    assert beat["in_flight"] == 3 and beat["rows_written"] == 7
    alive, line = verdict(beat, now=1010.0, max_age=60)
    assert alive and line.startswith("alive: last pull 10 s ago, last row written 20 s ago, 3 in flight")
    # the process still writes its heartbeat, but nothing was pulled for 61 s: stale
    alive, line = verdict(beat | {"written_at": 1060.0}, now=1061.0, max_age=60)
    assert not alive and "the last pull from projects/p/subscriptions/s answered 61 s ago" in line
    # the process is gone: its heartbeat is not rewritten
    alive, line = verdict(beat, now=1070.0, max_age=60)
    assert not alive and "heartbeat was last written 69 s ago" in line
    # started and never pulled: alive for a while, then stale
    never = snapshot([Tracker(None, None)], 900.0, "s", 905.0)
    assert verdict(never, now=910.0, max_age=60)[0]
    assert not verdict(never | {"written_at": 965.0}, now=965.0, max_age=60)[0]


def test_a_missing_or_unreadable_heartbeat_file_is_stale(tmp_path):
    assert not read_verdict(tmp_path / "none.json", 60)[0]
    (tmp_path / "bad.json").write_text("{not json")
    assert not read_verdict(tmp_path / "bad.json", 60)[0]
    write(tmp_path / "beat.json", snapshot([Tracker(100.0, None)], 90.0, "s", 100.0))
    assert read_verdict(tmp_path / "beat.json", 60, now=110.0) == (
        True,
        "alive: last pull 10 s ago, no row written yet, 0 in flight",
    )


class Answers:
    """A client whose get_* calls raise NotFound for the names given."""

    def __init__(self, absent: set[str]) -> None:
        self.absent, self.asked = absent, []

    def _get(self, name: str) -> object:
        self.asked.append(name)
        if name in self.absent:
            raise NotFound(name)
        return object()

    def get_subscription(self, request: dict) -> object:
        return self._get(request["subscription"])

    def get_topic(self, request: dict) -> object:
        return self._get(request["topic"])

    def get_table(self, table: str) -> object:
        return self._get(table)


def test_preflight_names_every_missing_resource_and_only_those():
    cfg = StreamingConfig(model="m", project="p", explain=False)
    alerts_table = cfg.table(cfg.alerts_table)
    absent = {cfg.subscription_path(), cfg.alerts_topic_path(), alerts_table}
    clients = Answers(absent)
    problems = missing(cfg, clients, clients, clients)
    assert [line.split(" does not exist")[0] for line in problems] == [
        f"subscription {cfg.subscription_path()}",
        f"topic {cfg.alerts_topic_path()}",
        f"alerts table {alerts_table}",
    ]
    assert cfg.dead_letter_topic_path() in clients.asked and cfg.table(cfg.predictions_table) in clients.asked
    assert "p.firewatch.explanations" not in clients.asked  # not written without explanations
    assert missing(cfg, Answers(set()), Answers(set()), Answers(set())) == []


def _stream(names, model, *extra: str, **kw) -> subprocess.Popen:
    from tests.fixtures.streaming_helpers import stream_args

    argv = [sys.executable, "-m", "firewatch.cli", "stream", "--model", str(model), *stream_args(names), *extra]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.stack
def test_a_missing_subscription_ends_the_job_at_once_with_one_line(gcp_resources, tmp_path):
    job = _stream(gcp_resources, tmp_path / "no-model-needed", "--subscription", "no-such-subscription")
    out, err = job.communicate(timeout=60)
    assert job.returncode == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[0] == "firewatch: error: the streaming job cannot start:"
    assert len(lines) == 2 and "subscriptions/no-such-subscription does not exist" in lines[1]
    assert "Traceback" not in err + out


@pytest.mark.stack
def test_a_subscription_deleted_under_a_running_job_ends_it_and_its_heartbeat_goes_stale(
    gcp_resources, controlled_model_dir, tmp_path
):
    from firewatch.cloud.clients import subscriber_client

    names = gcp_resources
    beat = tmp_path / "heartbeat.json"
    job = _stream(names, controlled_model_dir, "--no-explain", "--heartbeat-file", str(beat))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and job.poll() is None:
            if beat.exists() and json.loads(beat.read_text())["last_pull_at"] is not None:
                break
            time.sleep(1)
        alive, line = read_verdict(beat, max_age=30)
        assert alive, line
        checked = subprocess.run(
            [sys.executable, "-m", "firewatch.cli", "liveness", str(beat), "--max-age-seconds", "30"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert checked.returncode == 0 and checked.stdout.startswith("firewatch liveness: alive")

        subscriber = subscriber_client()
        subscriber.delete_subscription(
            subscription=subscriber.subscription_path(names.project, names.frames_subscription)
        )
        out, err = job.communicate(timeout=60)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode == 1
    assert f"firewatch stream: error: subscription projects/{names.project}/subscriptions/" in err
    assert "does not exist (deleted while the job was running?)" in err
    assert "Traceback" not in err
    time.sleep(3)
    alive, line = read_verdict(beat, max_age=2)
    assert not alive, line
