"""`firewatch data from-feedback` on the local stack: verdicts given in the console become ROOT/fire and
ROOT/no_fire images with a manifest, in the layout the ingest accepts."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from firewatch.cli.dispatch import main
from firewatch.cloud.clients import storage_client
from firewatch.console.store import ConsoleStore
from firewatch.core.feedback import VerdictInput
from model.data.sources import check_path, list_images
from tests.fixtures.console_seed import console_config, seed_alert

pytestmark = pytest.mark.stack


def test_false_alarms_become_hard_negatives_and_missed_fires_fire(gcp_resources, tmp_path, capsys) -> None:
    names = gcp_resources
    seeded = seed_alert(names)
    store = ConsoleStore(console_config(names), names.project)
    frames = {f["frame_key"]: f for f in store.frames_between(
        seeded.camera_id, seeded.started, seeded.started + dt.timedelta(minutes=1))}  # fmt: skip
    now = dt.datetime.now(dt.UTC)

    def verdict(key, **kw):
        return VerdictInput(feedback_id=key * 16, camera_id=seeded.camera_id, model_version="controlled-v1", **kw)

    fire_keys = tuple(seeded.fire_keys)
    fire_uris = tuple(frames[k]["source_uri"] for k in fire_keys)
    # First confirmed, then changed to a false alarm: the latest verdict wins.
    store.record_verdict(verdict("a", verdict="fire_confirmed", alert_id=seeded.alert_id, frame_keys=fire_keys,
                                 frame_uris=fire_uris), "alice", now - dt.timedelta(minutes=2))  # fmt: skip
    store.record_verdict(verdict("b", verdict="false_alarm", category="industrial_smoke", alert_id=seeded.alert_id,
                                 frame_keys=fire_keys, frame_uris=fire_uris),
                         "bob", now - dt.timedelta(minutes=1))  # fmt: skip
    missed = seeded.frame_keys[0]
    store.record_verdict(verdict("c", verdict="missed_fire", frame_keys=(missed,),
                                 frame_uris=(frames[missed]["source_uri"],)), "alice", now)  # fmt: skip
    store.record_verdict(verdict("d", verdict="missed_fire", frame_keys=("cam-north/inline",), frame_uris=("",)),
                         "alice", now)  # fmt: skip

    root = tmp_path / "feedback"
    argv = ["data", "from-feedback", "--output", str(root), "--dataset", names.dataset,
            "--allowed-buckets", names.frames_bucket]  # fmt: skip
    assert main(argv) == 0
    assert "exported 5 frames (fire=1, no_fire=4); skipped 1" in capsys.readouterr().out

    manifest = [json.loads(line) for line in (root / "feedback_manifest.jsonl").read_text().splitlines()]
    by_key = {entry["frame_key"]: entry for entry in manifest}
    assert set(by_key) == {*fire_keys, missed}
    for key in fire_keys:
        entry = by_key[key]
        assert (entry["label"], entry["verdict"], entry["category"], entry["alert_id"], entry["operator"]) == (
            "no_fire", "false_alarm", "industrial_smoke", seeded.alert_id, "bob")  # fmt: skip
        assert entry["model_version"] == "controlled-v1" and entry["path"].startswith("no_fire/")
    assert by_key[missed]["label"] == "fire" and by_key[missed]["alert_id"] is None
    bucket = storage_client(names.project).bucket(names.frames_bucket)
    for entry in manifest:  # byte-identical copies of the frames the pipeline scored
        name = entry["source_uri"].split("/", 3)[3]
        assert (root / entry["path"]).read_bytes() == bucket.blob(name).download_as_bytes()
    skipped = json.loads((root / "feedback_skipped.json").read_text())
    assert skipped[0]["frame_key"] == "cam-north/inline" and "inline" in skipped[0]["reason"]
    # The ingest takes the folder as is: every listed file is at ROOT/<label>/<file>.
    listed = list_images(str(root))
    assert len(listed) == 5 and all(check_path(path, str(root)) is None for path in listed)

    assert main(argv) == 2  # never merges into an existing export
