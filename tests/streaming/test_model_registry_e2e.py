"""A new model reaches the running stream without a restart (issue 19), on the local stack.

The controlled model (`tests/fixtures/controlled_model.py`: red frames are fire, blue ones clear, on
any machine) is copied three times into versions ctl-v1, ctl-v2 and ctl-v3 (ctl-v3 broken: no
variables) and registered. `firewatch stream --model-registry` starts on ctl-v1 while two cameras
keep sending: `cam-fire` red frames (an alert opens and stays open), `cam-clear` blue ones. Then:
ctl-v2 is promoted and within 60 s the rows carry it; ctl-v3 is refused (worse recall), promoted
with --force, fails to load, and the job keeps scoring with ctl-v2 (logged, counted); `rollback`
goes back to ctl-v2 and again to ctl-v1, which the rows follow. At the end every published frame
is exactly one prediction row, the alert open across the swaps is one alert (one open, one close,
one alert_id), and the alert joins to its model's lineage in `model_versions`.

Shadow scoring (issue 19 part 4) runs through the same stream: `shadow` names ctl-always, a controlled
model that says fire to every frame, at --shadow-share 0.5. Exactly the frames the hash selects
(`shadow_selected`, recomputed here) get one shadow row each, naming the version that scored them on
the main path; cam-clear still raises no alert (the shadow never alerts); and `firewatch model compare`
prints, from the BigQuery emulator, each (shadow, current) pair with the agreement the rows imply.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from firewatch.cli.dispatch import main
from firewatch.cloud.clients import publisher_client
from firewatch.core.shadow import shadow_selected
from infra import resources
from streaming.local import start_stream, stop_stream
from tests.fixtures.controlled_model import colour_png, export_controlled_model
from tests.fixtures.streaming_helpers import FrameBatch, rows, stream_args, wait_until

pytestmark = pytest.mark.stack
SWAP_S = 60  # the bound: "within 60 s"
SHADOW_SHARE = 0.5


def version_copy(model_dir: Path, dest: Path, version: str, recall: float, broken: bool = False) -> Path:
    """The controlled export under another model_version (and evaluation); `broken`: no variables."""
    shutil.copytree(model_dir, dest)
    meta_path = dest / "firewatch_model.json"
    meta = json.loads(meta_path.read_text())
    meta.update(model_version=version, metrics={"valid": {"recall": recall, "precision": 0.9}})
    meta_path.write_text(json.dumps(meta))
    if broken:
        shutil.rmtree(dest / "variables")
    return dest


class Cameras:
    """Publishes a red frame for cam-fire and a blue one for cam-clear every `every` s, in a thread;
    remembers every frame id sent and when."""

    def __init__(self, names: resources.ResourceNames, every: float = 1.0) -> None:
        self.publisher = publisher_client()
        self.topic = self.publisher.topic_path(names.project, names.frames_topic)
        self.rng = np.random.default_rng(19)
        self.batch = FrameBatch(t0=datetime.now(UTC))
        self.sent: dict[str, float] = {}  # frame_id -> when published (monotonic)
        self.fire = True
        self.every = every
        self.stop = threading.Event()
        self.i = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            for camera, fire in (("cam-fire", self.fire), ("cam-clear", False)):
                self.batch.frame(camera, self.i, colour_png(self.rng, fire=fire))
            for data, attrs in self.batch.messages:
                self.publisher.publish(self.topic, data, **attrs).result(timeout=30)
                self.sent[attrs["frame_id"]] = time.monotonic()
            self.batch.messages.clear()
            self.i += 1
            self.stop.wait(self.every)

    def since(self, moment: float) -> set[str]:
        return {frame for frame, at in list(self.sent.items()) if at >= moment}


def test_new_versions_reach_the_running_stream(local_stack, controlled_model_dir, tmp_path, capsys):
    names = resources.ResourceNames(project=local_stack.project).with_suffix(uuid.uuid4().hex[:8])
    resources.apply(names)
    dataset = f"{names.project}.{names.dataset}"
    registry = str(tmp_path / "registry")
    table = ["--project", names.project, "--dataset", names.dataset, "--by", "e2e"]
    for version, recall, broken in (("ctl-v1", 0.9, False), ("ctl-v2", 0.9, False), ("ctl-v3", 0.5, True)):
        model_dir = version_copy(controlled_model_dir, tmp_path / version, version, recall, broken)
        assert main(["model", "register", registry, str(model_dir), *table]) == 0
    assert main(["model", "promote", registry, "ctl-v1", *table]) == 0
    always = export_controlled_model(tmp_path / "always-export", gain=0.0, bias=10.0)  # fire, every frame
    always = version_copy(always, tmp_path / "ctl-always", "ctl-always", 0.9)
    assert main(["model", "register", registry, str(always), *table]) == 0
    assert main(["model", "shadow", registry, "ctl-always", *table]) == 0

    def versions_of(frames: set[str]) -> dict[str, str]:
        if not frames:
            return {}
        ids = ", ".join(f"'{f}'" for f in sorted(frames))
        found = rows(f"SELECT frame_id, model_version FROM `{dataset}.predictions` WHERE frame_id IN ({ids})")
        return {r["frame_id"]: r["model_version"] for r in found}

    def all_scored_by(frames: set[str], version: str) -> bool:
        got = versions_of(frames)
        return len(got) == len(frames) and set(got.values()) == {version}

    def switched(since: float, version: str, last: int = 6) -> float | None:
        """When (seconds after `since`) the first frame published after it that `version` scored was
        published, once the `last` frames scored since are all `version`'s; None until then."""
        got = versions_of(cameras.since(since))
        ordered = sorted(got, key=lambda frame: cameras.sent[frame])
        if len(ordered) < last or {got[f] for f in ordered[-last:]} != {version}:
            return None
        first = next(f for f in ordered if got[f] == version)
        return cameras.sent[first] - since

    log_path = tmp_path / "stream.log"
    log = lambda: log_path.read_text()[-4000:]  # noqa: E731
    flags = stream_args(
        names,
        model_registry=registry,
        model_refresh_seconds="2",
        shadow_share=str(SHADOW_SHARE),
        explain="false",
        confirm_clear_seconds="5",
        confirm_reorder_seconds="1",
        confirm_flush_after_seconds="3",
    )
    process = start_stream(None, log_path, flags)
    alive = lambda: process.poll() is None  # noqa: E731
    cameras = Cameras(names)
    cameras.thread.start()
    try:
        # v1 serves, and cam-fire's alert opens on it.
        assert wait_until(lambda: "ctl-v1" in versions_of(cameras.since(0)).values(), time.monotonic() + 240, alive), (
            log()
        )
        opened = f"SELECT alert_id, model_version FROM `{dataset}.alerts` WHERE event = 'open'"
        assert wait_until(lambda: len(rows(opened)) == 1, time.monotonic() + 60, alive), log()
        assert rows(opened)[0]["model_version"] == "ctl-v1"

        # v2 promoted: within 60 s every newly published frame is scored by v2.
        assert main(["model", "promote", registry, "ctl-v2", *table]) == 0
        promoted = time.monotonic()
        assert wait_until(lambda: switched(promoted, "ctl-v2") is not None, promoted + SWAP_S + 30, alive), (
            versions_of(cameras.since(promoted)),
            log(),
        )
        assert switched(promoted, "ctl-v2") <= SWAP_S

        # v3 is worse: refused without --force; with it, v3 fails to load and v2 keeps scoring.
        assert main(["model", "promote", registry, "ctl-v3", *table]) == 2
        assert main(["model", "promote", registry, "ctl-v3", "--force", *table]) == 0
        forced = time.monotonic()
        assert wait_until(lambda: "version ctl-v3 failed to load" in log_path.read_text(), forced + 60, alive), log()
        after_failure = time.monotonic()
        time.sleep(6)
        assert wait_until(lambda: all_scored_by(cameras.since(after_failure), "ctl-v2"), forced + 120, alive), log()

        # rollback: to v2 (from the broken v3), then to v1, which the rows follow.
        assert main(["model", "rollback", registry, *table]) == 0
        assert main(["model", "rollback", registry, *table]) == 0
        rolled = time.monotonic()
        assert wait_until(lambda: switched(rolled, "ctl-v1") is not None, rolled + SWAP_S + 30, alive), (
            versions_of(cameras.since(rolled)),
            log(),
        )
        assert switched(rolled, "ctl-v1") <= SWAP_S

        # cam-fire goes clear: its one alert closes.
        cameras.fire = False
        closed = f"SELECT alert_id FROM `{dataset}.alerts` WHERE event = 'close'"
        assert wait_until(lambda: len(rows(closed)) >= 1, time.monotonic() + 90, alive), log()
        cameras.stop.set()
        cameras.thread.join(30)
        sent = set(cameras.sent)
        assert wait_until(lambda: len(versions_of(sent)) == len(sent), time.monotonic() + 90, alive), log()
        chosen = {f for f in sent if shadow_selected(f"{f.rsplit('-', 1)[0]}/{f}", SHADOW_SHARE)}
        shadowed = f"SELECT COUNT(*) AS n FROM `{dataset}.shadow_predictions`"
        assert wait_until(lambda: rows(shadowed)[0]["n"] >= len(chosen), time.monotonic() + 90, alive), log()
    finally:
        cameras.stop.set()
        stopped = stop_stream(process)
    assert stopped
    text = log_path.read_text()

    # Every published frame is exactly one row, scored by exactly the versions that served.
    per_frame = rows(f"SELECT frame_id, COUNT(*) AS n FROM `{dataset}.predictions` GROUP BY frame_id")
    assert {r["frame_id"] for r in per_frame} == sent
    assert all(r["n"] == 1 for r in per_frame), [r for r in per_frame if r["n"] != 1]
    served = {r["model_version"] for r in rows(f"SELECT DISTINCT model_version FROM `{dataset}.predictions`")}
    assert served == {"ctl-v1", "ctl-v2"}

    # The alert open across the swaps is one alert: one open, one close, the same alert_id throughout.
    alerts = rows(f"SELECT alert_id, event, model_version FROM `{dataset}.alerts` WHERE camera_id = 'cam-fire'")
    events = [a["event"] for a in alerts]
    assert events.count("open") == 1 and events.count("close") == 1, alerts
    assert len({a["alert_id"] for a in alerts}) == 1
    assert not rows(f"SELECT alert_id FROM `{dataset}.alerts` WHERE camera_id = 'cam-clear'")

    # The failed load was logged and counted.
    metrics = json.loads(re.search(r"firewatch stream: metrics (\{.*\})", text).group(1))
    assert metrics["model_registry"] == {"swaps": 2, "load_failures": 1}, metrics  # v1->v2, v2->v1; v3 once
    assert "version ctl-v3 failed to load, still scoring with ctl-v2" in text

    # "Which model raised this alert, trained on what?" is one join.
    joined = rows(
        f"SELECT a.alert_id, v.model_version, v.event_by, v.recall FROM `{dataset}.alerts` a "
        f"JOIN `{dataset}.model_versions` v ON v.model_version = a.model_version AND v.event = 'registered' "
        "WHERE a.event = 'open'"
    )
    assert [(j["model_version"], j["event_by"], j["recall"]) for j in joined] == [("ctl-v1", "e2e", 0.9)]
    events = rows(f"SELECT model_version, event FROM `{dataset}.model_versions` WHERE event != 'registered'")
    assert sorted((e["model_version"], e["event"]) for e in events) == sorted(
        [
            ("ctl-v1", "promoted"),
            ("ctl-v2", "promoted"),
            ("ctl-v3", "promoted"),
            ("ctl-v2", "rolled_back_to"),
            ("ctl-v1", "rolled_back_to"),
            ("ctl-always", "shadowed"),
        ]
    )
    check_shadow(dataset, registry, names, chosen, text, capsys)
    resources.destroy(names)


def check_shadow(dataset: str, registry: str, names, chosen: set[str], text: str, capsys) -> None:
    """The chosen frames, and only they, have one shadow row each; `model compare` reports them."""
    shadow = rows(f"SELECT frame_id, model_version, current_model_version, label FROM `{dataset}.shadow_predictions`")
    assert sorted(r["frame_id"] for r in shadow) == sorted(chosen)
    assert {(r["model_version"], r["label"]) for r in shadow} == {("ctl-always", "fire")}
    main_rows = rows(f"SELECT frame_id, model_version, label FROM `{dataset}.predictions`")
    scored_by = {r["frame_id"]: (r["model_version"], r["label"]) for r in main_rows}
    assert all(r["current_model_version"] == scored_by[r["frame_id"]][0] for r in shadow)
    metrics = json.loads(re.search(r"firewatch stream: metrics (\{.*\})", text).group(1))
    assert metrics["shadow"] == {"swaps": 1, "frames_scored": len(chosen)}, metrics  # its first load; no failures

    # The comparison from BigQuery: per main version, the shadow agrees exactly on the frames labelled fire.
    expected = {}
    for version in {scored_by[f][0] for f in chosen}:
        frames = [f for f in chosen if scored_by[f][0] == version]
        expected[version] = (len(frames), sum(scored_by[f][1] == "fire" for f in frames) / len(frames))
    capsys.readouterr()
    flags = ["--project", names.project, "--dataset", names.dataset, "--since", "1h"]
    assert main(["model", "compare", registry, *flags]) == 0
    out = capsys.readouterr().out
    for version, (frames, agreement) in expected.items():
        assert f"shadow ctl-always vs current {version}: {frames} frames" in out, out
        assert f"agreement {agreement:.4f}" in out, out
    assert main(["model", "compare", registry, *flags, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    got = {p["current_version"]: (p["frames"], p["agreement"], p["shadow_fire_rate"]) for p in report["pairs"]}
    assert got == {v: (n, pytest.approx(a), 1.0) for v, (n, a) in expected.items()}
    assert all(p["shadow_alerts"] >= 2 for p in report["pairs"] if p["cameras"] == 2)  # it would alert on cam-clear
