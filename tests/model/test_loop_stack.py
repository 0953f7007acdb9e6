"""`firewatch model loop` end to end on the local stack with the real jobs and a tiny budget: verdicts in
the BigQuery emulator and their frames in the GCS emulator; a registry whose `current` is a small CNN
trained for seconds (`tests.fixtures.feedback_loop`). Too few verdicts: nothing to do. A step that fails
(the base data is missing): one line, exit 2, no new version. Then the loop: a new version registered
with parent v1, the hashes of the data it was trained on and its evaluation, `shadow` names it,
`current` is still v1, and the registry's events are in the `model_versions` table."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pytest

from firewatch.cli.dispatch import main
from firewatch.cloud import registry as store
from firewatch.cloud.bigquery_rows import insert_rows
from firewatch.cloud.clients import storage_client
from firewatch.core.feedback import VerdictInput, feedback_row
from model.config import PromoteConfig, RegisterConfig
from model.data.feedback_data import is_heldout
from model.lifecycle import registry
from tests.fixtures.feedback_loop import frame_png, write_base_tfrecords

pytestmark = pytest.mark.stack

# alert -> the kind of its frames; two on each side of the alert-wise split (checked below)
ALERTS = {"cam-lamp-b-episode-1": "sodium", "cam-ridge-a-episode-1": "fire",
          "cam-lamp-a-episode-1": "sodium", "cam-ridge-c-episode-1": "fire"}  # fmt: skip
FRAMES = 2


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, Path]:
    """(base TFRecords, v1 MODEL_DIR): small_cnn at 32 px, one short epoch."""
    from model.config import TrainConfig
    from model.training.train import train

    root = tmp_path_factory.mktemp("loop-base")
    data = write_base_tfrecords(root / "data", count=160, seed=0)
    output = root / "v1"
    train(TrainConfig(data=str(data), output=str(output), image_size=32, epochs=1, batch_size=32, verbose=0,
                      work_dir=str(root / "v1.training"), data_description="loop test data (synthetic)"))  # fmt: skip
    return data, output


def seed_verdicts(names, after: dt.datetime) -> None:
    """Each alert's frames in the frames bucket, and its verdict (given after `after`) in the feedback table."""
    bucket = storage_client(names.project).bucket(names.frames_bucket)
    rng = np.random.default_rng(5)
    rows = []
    for n, (alert, kind) in enumerate(ALERTS.items()):
        keys, uris = [], []
        for i in range(FRAMES):
            name = f"frames/{alert}/f{i}.png"
            bucket.blob(name).upload_from_string(frame_png(kind, rng), content_type="image/png")
            keys.append(f"{alert}/f{i}")
            uris.append(f"gs://{names.frames_bucket}/{name}")
        verdict, extra = ("false_alarm", {"category": "lights"}) if kind == "sodium" else ("fire_confirmed", {})
        given = VerdictInput(feedback_id=f"loop-test-feedback-{n:02d}", verdict=verdict, alert_id=alert,
                             camera_id=alert.removesuffix("-episode-1"), frame_keys=tuple(keys),
                             frame_uris=tuple(uris), model_version="v1", **extra)  # fmt: skip
        rows.append(feedback_row(given, "ana", after + dt.timedelta(seconds=n + 1)))
    insert_rows(names.table_id("feedback_table"), rows)


def test_the_loop_on_the_local_stack(gcp_resources, base, tmp_path, capsys) -> None:
    names = gcp_resources
    assert [is_heldout(a, 0.25) for a in ALERTS] == [False, False, True, True]
    data, v1_dir = base
    reg = str(tmp_path / "registry")
    where = {"project": names.project, "dataset": names.dataset, "by": "ana"}
    v1 = registry.register(RegisterConfig(registry=reg, model_dir=str(v1_dir), **where))["model_version"]
    registry.promote(PromoteConfig(registry=reg, version=v1, **where))
    seed_verdicts(names, dt.datetime.fromisoformat(store.read_lineage(reg, v1)["registered_at"]))

    argv = ["model", "loop", "--registry", reg, "--data", str(data), "--work", str(tmp_path / "work"),
            "--project", names.project, "--dataset", names.dataset, "--allowed-buckets", names.frames_bucket,
            "--by", "loop-bot", "--epochs", "1", "--feedback-weight", "2"]  # fmt: skip
    assert main([*argv, "--min-verdicts", "5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("nothing to do: 4 verdicts since ") and "--min-verdicts is 5. No new version." in out
    assert store.list_versions(reg) == [v1] and not (tmp_path / "work").exists()

    empty = tmp_path / "no-data"
    empty.mkdir()
    broken = [*argv, "--min-verdicts", "4"]
    broken[broken.index(str(data))] = str(empty)
    broken[broken.index(str(tmp_path / "work"))] = str(tmp_path / "work-broken")
    assert main(broken) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("firewatch: error: model loop: fine-tune failed: "), err
    (trace,) = (tmp_path / "work-broken").glob("loop-*/loop_error.txt")
    assert f"(no version registered; traceback: {trace})" in err and trace.read_text().startswith("step: fine-tune")
    assert store.list_versions(reg) == [v1] and store.read_pointer(reg, "shadow") is None

    assert main([*argv, "--min-verdicts", "4"]) == 0
    out = capsys.readouterr().out
    assert "data from-feedback: exported 8 frames (fire=4, no_fire=4); skipped 0" in out
    (v2,) = set(store.list_versions(reg)) - {v1}
    assert store.read_pointer(reg, "current") == v1 and store.read_pointer(reg, "shadow") == v2
    assert f"firewatch model promote {reg} {v2}" in out
    lineage = store.read_lineage(reg, v2)
    assert (lineage["parent_version"], lineage["registered_by"], lineage["backbone"]) == (v1, "loop-bot", "small_cnn")
    (run_dir,) = (tmp_path / "work").iterdir()
    hashed = {d["path"]: d["sha256"] for d in lineage["data"]}
    for path in [*data.iterdir(), *(run_dir / "feedback").rglob("*")]:
        if path.is_file():
            assert hashed.pop(str(path)) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert hashed == {}  # nothing else: the base TFRecords and the feedback export, every file
    assert len(list((run_dir / "feedback").glob("no_fire/*.png"))) == 4
    assert lineage["evaluation"]["source"] == "test split (evaluation.json)"
    assert lineage["training_config"]["fine_tune"]["model"] == f"{reg}/{v1}"
    assert (Path(reg) / v2 / "feedback_evaluation.json").is_file()  # the fine-tune's before/after report

    from firewatch.clients.query import QuerySpec, run_query

    table = f"`{names.table_id('model_versions_table')}`"
    events = run_query(QuerySpec(f"SELECT model_version, event FROM {table}", []), project=names.project)
    assert sorted((r["model_version"], r["event"]) for r in events) == sorted(
        [(v1, "registered"), (v1, "promoted"), (v2, "registered"), (v2, "shadowed")]
    )


def test_the_loop_with_a_gcs_registry_and_work_folder(gcp_resources, tmp_path) -> None:
    """gs:// registry and WORK (as on Vertex AI): the steps write locally, the run folder is uploaded before
    register and the lineage names gs:// paths; a register cut off before its lineage leaves nothing on gs://.
    The jobs are stand-ins at their step boundaries (tests/model/test_loop.py): this checks the storage path."""
    from firewatch.cloud.clients import prepare_beam_offline_auth
    from model.config import LoopConfig
    from model.lifecycle import loop
    from tests.model.test_loop import NOW, StandIns, fake_export, rows_with

    prepare_beam_offline_auth()
    bucket = storage_client(gcp_resources.project).bucket(gcp_resources.frames_bucket)
    bucket.blob("data/train-00000-of-00001.tfrecord").upload_from_string(b"base records")
    root = gcp_resources.bucket_uri()
    reg = f"{root}/registry"
    no_table = {"model_versions_table": ""}
    v1 = fake_export(tmp_path / "v1", "v1", 0.95, 0.9)
    registry.register(RegisterConfig(registry=reg, model_dir=str(v1), **no_table))
    registry.promote(PromoteConfig(registry=reg, version="v1", **no_table))
    registered = dt.datetime.fromisoformat(store.read_lineage(reg, "v1")["registered_at"])
    config = LoopConfig(registry=reg, data=f"{root}/data", work=f"{root}/work", min_verdicts=3, **no_table)

    def half_register(register: RegisterConfig) -> dict:
        store.copy_model(register.model_dir, register.registry, "v2")
        raise OSError("connection reset")

    rows = rows_with(3, after=registered)
    broken = loop.LoopSteps(**{**vars(StandIns(rows).steps()), "register": half_register})
    with pytest.raises(loop.LoopError, match="register failed: .*no version registered"):
        loop.run_loop(config, broken, now=NOW, log=lambda _: None)
    assert store.list_versions(reg) == ["v1"] and not list(bucket.list_blobs(prefix="registry/v2/"))
    assert bucket.blob(f"work/{loop.run_id(NOW)}/{loop.ERROR_FILE}").exists()  # the traceback, uploaded

    later = NOW + dt.timedelta(minutes=1)
    result = loop.run_loop(config, StandIns(rows).steps(), now=later, log=lambda _: None)
    run_dir = f"{root}/work/{loop.run_id(later)}"
    assert (result.version, result.run_dir) == ("v2", run_dir)
    assert store.read_pointer(reg, "shadow") == "v2" and store.read_pointer(reg, "current") == "v1"
    lineage = store.read_lineage(reg, "v2")
    assert lineage["source"] == f"{run_dir}/model" and lineage["parent_version"] == "v1"
    assert {d["path"]: d["sha256"] for d in lineage["data"]} == {
        f"{root}/data/train-00000-of-00001.tfrecord": hashlib.sha256(b"base records").hexdigest(),
        f"{run_dir}/feedback/feedback_manifest.jsonl": hashlib.sha256(
            b'{"path": "fire/fire.png"}\n{"path": "no_fire/no_fire.png"}\n').hexdigest(),
        f"{run_dir}/feedback/fire/fire.png": hashlib.sha256(b"fire").hexdigest(),
        f"{run_dir}/feedback/no_fire/no_fire.png": hashlib.sha256(b"no_fire").hexdigest(),
    }  # fmt: skip
    assert lineage["evaluation"]["recall"] == 0.96  # evaluation.json travelled with the model folder
