"""`firewatch model loop`'s orchestration, fast: the registry and its commands are real (a local folder),
the verdict source, the export, the fine-tune and the evaluation are stand-ins at their step boundaries
that record the configs they are given and write what the real jobs write (a model folder's metadata,
evaluation.json, an export folder with its manifest). The loop on the local stack with the real jobs is
in test_loop_stack.py."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from firewatch.cli.dispatch import main
from firewatch.cloud import registry as store
from firewatch.core.feedback import VerdictInput, feedback_row
from model.config import LoopConfig, PromoteConfig, RegisterConfig
from model.data.feedback_export import ExportReport, FeedbackExportConfig
from model.lifecycle import loop, registry

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)  # v1 is registered at this time (see `reg`)
NOW = dt.datetime(2026, 12, 3, 17, 0, 5, tzinfo=dt.UTC)


def fake_export(folder: Path, version: str, recall: float, precision: float, **metrics) -> Path:
    """A model folder as far as the registry reads it (metadata + a file standing for the SavedModel)."""
    folder.mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"graph of " + version.encode())
    meta = {"model_version": version, "class_names": ["no_fire", "fire"], "image_size": 32, "threshold": 0.5,
            "backbone": "small_cnn", "data_description": "test", "created_at": "2026-12-03T10:00:00Z",
            "metrics": {"valid": {"recall": recall, "precision": precision}, **metrics}}  # fmt: skip
    (folder / "firewatch_model.json").write_text(json.dumps(meta))
    return folder


def verdict(n: int, kind: str, at: dt.datetime, alert: str | None = None) -> dict:
    alert = alert or f"alert-{n}"
    extra = {"category": "lights"} if kind == "false_alarm" else {}
    given = VerdictInput(feedback_id=f"feedback-{n:04d}-xxxxxxxx", verdict=kind, alert_id=alert, camera_id="cam-1",
                         frame_keys=(f"cam-1/{alert}",), model_version="v1", **extra)  # fmt: skip
    return feedback_row(given, "ana", at)


class StandIns:
    """Records each step's config; writes what the real job writes; `fail` names a step that raises."""

    def __init__(self, rows: list[dict], fail: str | None = None) -> None:
        self.rows, self.fail, self.calls = rows, fail, {}

    def _enter(self, name: str, config) -> None:
        self.calls[name] = config
        if self.fail == name:
            raise RuntimeError(f"{name} broke\n(second line)")

    def read_verdicts(self, config: FeedbackExportConfig) -> list[dict]:
        self._enter("read_verdicts", config)
        return self.rows

    def export(self, config: FeedbackExportConfig, rows: list[dict]) -> ExportReport:
        self._enter("export", config)
        root = Path(config.output)
        for label in ("fire", "no_fire"):
            (root / label).mkdir(parents=True)
            (root / label / f"{label}.png").write_bytes(label.encode())
        (root / "feedback_manifest.jsonl").write_text('{"path": "fire/fire.png"}\n{"path": "no_fire/no_fire.png"}\n')
        return ExportReport(written=Counter(fire=1, no_fire=1))

    def fine_tune(self, config):
        self._enter("fine_tune", config)
        fake_export(Path(config.output), "v2", 0.97, 0.9, fine_tuned_from="v1")
        return SimpleNamespace(metadata={"model_version": "v2"})

    def evaluate(self, config) -> dict:
        self._enter("evaluate", config)
        report = {"split": "test", "recall": 0.96, "precision": 0.93}
        (Path(config.output) / "evaluation.json").write_text(json.dumps(report))
        return report

    def register(self, config: RegisterConfig) -> dict:
        self._enter("register", config)
        return registry.register(config)

    def shadow(self, config) -> dict:
        self._enter("shadow", config)
        return registry.shadow(config)

    def steps(self) -> loop.LoopSteps:
        return loop.LoopSteps(self.read_verdicts, self.export, self.fine_tune, self.evaluate, self.register,
                              self.shadow)  # fmt: skip


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LoopConfig:
    """A local registry with v1 registered at T0 and current; base TFRecords; a work folder."""
    monkeypatch.setattr(registry, "now_text", lambda: loop.text_time(T0))
    reg = str(tmp_path / "registry")
    v1 = fake_export(tmp_path / "export-v1", "v1", 0.95, 0.9)
    registry.register(RegisterConfig(registry=reg, model_dir=str(v1), model_versions_table=""))
    registry.promote(PromoteConfig(registry=reg, version="v1", model_versions_table=""))
    monkeypatch.undo()
    data = tmp_path / "tfrecords"
    data.mkdir()
    (data / "train-00000-of-00001.tfrecord").write_bytes(b"base records")
    return LoopConfig(registry=reg, data=str(data), work=str(tmp_path / "work"), min_verdicts=3,
                      model_versions_table="", by="loop-bot", epochs=1, project="p1")  # fmt: skip


def rows_with(new: int, after: dt.datetime = T0) -> list[dict]:
    """`new` verdicts after v1's registration; older ones and a changed verdict that must not count twice."""
    rows = [verdict(900, "false_alarm", after - dt.timedelta(hours=1)), verdict(901, "fire_confirmed", after)]
    rows += [verdict(i, "false_alarm", after + dt.timedelta(hours=i + 1)) for i in range(new)]
    rows.append(verdict(950, "fire_confirmed", after + dt.timedelta(hours=1), alert="alert-0"))  # alert-0 again
    return rows


def test_the_loop_registers_a_fine_tuned_child_of_current_and_shadows_it(setup: LoopConfig) -> None:
    steps = StandIns(rows_with(3))
    printed: list[str] = []
    result = loop.run_loop(setup, steps.steps(), now=NOW, log=printed.append)

    assert (result.parent, result.version, result.verdicts, result.since) == ("v1", "v2", 3, "2026-12-01T12:00:00Z")
    run_dir = Path(setup.work) / "loop-20261203T170005Z"
    assert result.run_dir == str(run_dir)
    assert list(steps.calls) == ["read_verdicts", "export", "fine_tune", "evaluate", "register", "shadow"]
    source = steps.calls["read_verdicts"]
    assert (source.project, source.dataset, source.feedback_table, source.since_days) == (
        "p1",
        "firewatch",
        "feedback",
        3650.0,
    )
    assert steps.calls["export"].output == str(run_dir / "feedback")
    tune = steps.calls["fine_tune"]
    assert (tune.model, tune.data, tune.feedback, tune.output, tune.epochs) == (
        f"{setup.registry}/v1", setup.data, str(run_dir / "feedback"), str(run_dir / "model"), 1)  # fmt: skip
    assert (steps.calls["evaluate"].model, steps.calls["evaluate"].output) == (tune.output, tune.output)

    assert store.read_pointer(setup.registry, "current") == "v1"  # never promoted
    assert store.read_pointer(setup.registry, "shadow") == "v2"
    lineage = store.read_lineage(setup.registry, "v2")
    assert (lineage["parent_version"], lineage["registered_by"]) == ("v1", "loop-bot")
    hashed = {d["path"]: d["sha256"] for d in lineage["data"]}
    assert hashed == {
        f"{setup.data}/train-00000-of-00001.tfrecord": hashlib.sha256(b"base records").hexdigest(),
        str(run_dir / "feedback/feedback_manifest.jsonl"): hashlib.sha256(
            b'{"path": "fire/fire.png"}\n{"path": "no_fire/no_fire.png"}\n').hexdigest(),
        str(run_dir / "feedback/fire/fire.png"): hashlib.sha256(b"fire").hexdigest(),
        str(run_dir / "feedback/no_fire/no_fire.png"): hashlib.sha256(b"no_fire").hexdigest(),
    }  # fmt: skip
    assert lineage["evaluation"]["recall"] == 0.96 and lineage["evaluation"]["source"] == "test split (evaluation.json)"
    assert lineage["training_config"]["fine_tune"]["model"] == f"{setup.registry}/v1"
    assert lineage["training_config"]["new_verdicts"] == 3
    assert result.problems == ()
    assert printed[-1] == "  shadow: - -> v2"

    text = loop.format_result(result, setup)
    assert f"firewatch model promote {setup.registry} v2" in text.splitlines()[-2]
    assert f"firewatch model compare {setup.registry}" in text
    assert text.splitlines()[0].startswith("model loop: v2 registered (parent v1) and shadowed; current is still v1")


def test_too_few_new_verdicts_is_nothing_to_do(setup: LoopConfig) -> None:
    steps = StandIns(rows_with(2))  # 2 new subjects (alert-0 changed twice counts once), 2 before v1
    result = loop.run_loop(setup, steps.steps(), now=NOW, log=lambda _: None)
    assert (result.version, result.verdicts) == (None, 2)
    assert list(steps.calls) == ["read_verdicts"]
    assert store.list_versions(setup.registry) == ["v1"] and store.read_pointer(setup.registry, "shadow") is None
    assert not Path(setup.work).exists()
    assert loop.format_result(result, setup) == (
        "nothing to do: 2 verdicts since 2026-12-01T12:00:00Z (current v1); --min-verdicts is 3. No new version."
    )


def test_the_window_bounds_the_count_when_current_is_older() -> None:
    rows = [verdict(i, "false_alarm", T0 + dt.timedelta(days=i)) for i in range(4)]
    assert loop.count_new_verdicts(rows, None) == 4
    assert loop.count_new_verdicts(rows, T0 + dt.timedelta(days=1, hours=1)) == 2


@pytest.mark.parametrize("step", ["export", "fine_tune", "evaluate"])
def test_a_failing_step_registers_nothing_and_keeps_its_traceback(setup: LoopConfig, step: str) -> None:
    steps = StandIns(rows_with(3), fail=step)
    with pytest.raises(loop.LoopError) as caught:
        loop.run_loop(setup, steps.steps(), now=NOW, log=lambda _: None)
    name = {"fine_tune": "fine-tune", "export": "data from-feedback"}.get(step, step)
    message = str(caught.value)
    assert message.startswith(f"model loop: {name} failed: {step} broke (second line) (no version registered;")
    assert "\n" not in message
    assert "register" not in steps.calls
    assert store.list_versions(setup.registry) == ["v1"] and store.read_pointer(setup.registry, "shadow") is None
    trace = (Path(setup.work) / "loop-20261203T170005Z" / loop.ERROR_FILE).read_text()
    assert trace.startswith(f"step: {name}\n") and "RuntimeError" in trace


def test_a_register_interrupted_before_its_lineage_leaves_no_version(setup: LoopConfig) -> None:
    steps = StandIns(rows_with(3))

    def half_register(config: RegisterConfig) -> dict:
        store.copy_model(config.model_dir, config.registry, "v2")  # the copy, then the disk fills up
        raise OSError(28, "No space left on device")

    result_steps = loop.LoopSteps(**{**vars(steps.steps()), "register": half_register})
    with pytest.raises(loop.LoopError, match=r"model loop: register failed: .*No space left.*no version registered"):
        loop.run_loop(setup, result_steps, now=NOW, log=lambda _: None)
    assert store.list_versions(setup.registry) == ["v1"]
    assert not (Path(setup.registry) / "v2").exists()


def test_a_failed_shadow_says_the_version_is_registered(setup: LoopConfig) -> None:
    steps = StandIns(rows_with(3), fail="shadow")
    with pytest.raises(loop.LoopError, match=r"shadow failed: .*v2 is registered, not shadowed: `firewatch model "
                       r"shadow .* v2`"):  # fmt: skip
        loop.run_loop(setup, steps.steps(), now=NOW, log=lambda _: None)
    assert store.list_versions(setup.registry) == ["v1", "v2"] and store.read_pointer(setup.registry, "shadow") is None


def test_the_command_prints_one_line_and_exits_non_zero_when_a_step_fails(setup, monkeypatch, capsys) -> None:
    steps = StandIns(rows_with(3), fail="evaluate")
    monkeypatch.setattr(loop, "default_steps", steps.steps)
    argv = ["model", "loop", "--registry", setup.registry, "--data", setup.data, "--work", setup.work,
            "--min-verdicts", "3", "--model-versions-table", "", "--epochs", "2", "--since-days", "30"]  # fmt: skip
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("firewatch: error: model loop: evaluate failed: evaluate broke")
    assert "in progress" in out
    assert steps.calls["fine_tune"].epochs == 2 and steps.calls["read_verdicts"].since_days == 30
    assert store.list_versions(setup.registry) == ["v1"]


def test_no_current_version_is_an_error(tmp_path: Path) -> None:
    config = LoopConfig(registry=str(tmp_path / "empty"), data="d", work=str(tmp_path / "w"))
    with pytest.raises(loop.LoopError, match="has no `current` version"):
        loop.run_loop(config, StandIns([]).steps(), now=NOW)


def test_the_feedback_options_are_those_of_data_from_feedback() -> None:
    shared = set(FeedbackExportConfig.model_fields) - {"output"}
    assert shared == set(loop.FEEDBACK_FIELDS)
    for name in shared:
        assert LoopConfig.model_fields[name].default == FeedbackExportConfig.model_fields[name].default, name


def test_an_export_without_any_frame_is_a_failed_step(setup: LoopConfig) -> None:
    steps = StandIns(rows_with(3))
    empty = loop.LoopSteps(**{**vars(steps.steps()), "export": lambda config, rows: ExportReport()})
    with pytest.raises(loop.LoopError, match=r"data from-feedback failed: no frame could be exported \(exported 0 "
                       r"frames \(nothing written\); skipped 0; why: .*feedback_skipped.json\)"):  # fmt: skip
        loop.run_loop(setup, empty, now=NOW, log=lambda _: None)
    assert "fine_tune" not in steps.calls and store.list_versions(setup.registry) == ["v1"]
