"""The model registry commands on a local folder: register (lineage, hashes), promote (the evaluation
check, --force), shadow, rollback, versions; the rows they write to `model_versions` match its schema."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from firewatch.cli.dispatch import main
from firewatch.cloud import registry as store
from firewatch.cloud.row_checks import row_problems
from firewatch.core.registry import check_promotion, evaluation_summary, pop_history, push_history
from firewatch.errors import UserError
from model.config import PromoteConfig, RegisterConfig, RollbackConfig, ShadowConfig, VersionsConfig
from model.lifecycle import registry

SCHEMA = json.loads((Path(__file__).parents[2] / "infra/schemas/model_versions.json").read_text())


def fake_export(folder: Path, version: str, recall: float, precision: float, **metrics) -> Path:
    """A model folder as far as the registry reads it: the metadata (and a file standing for the SavedModel)."""
    folder.mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"graph of " + version.encode())
    meta = {
        "model_version": version,
        "class_names": ["no_fire", "fire"],
        "image_size": 64,
        "threshold": 0.5,
        "backbone": "controlled",
        "data_description": "test",
        "created_at": "2026-12-03T10:00:00Z",
        "metrics": {"valid": {"recall": recall, "precision": precision}, **metrics},
    }
    (folder / "firewatch_model.json").write_text(json.dumps(meta))
    return folder


class Rows:
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def __call__(self, table, rows):
        for row in rows:
            assert row_problems(row, SCHEMA) == [], row_problems(row, SCHEMA)
        self.rows.extend(rows)


@pytest.fixture
def reg(tmp_path: Path) -> str:
    return str(tmp_path / "registry")


def test_register_copies_the_export_with_its_lineage(tmp_path: Path, reg: str) -> None:
    model_dir = fake_export(tmp_path / "m1", "v1", 0.9, 0.8, fine_tuned_from="v0")
    data = tmp_path / "data"
    data.mkdir()
    (data / "train-00000.tfrecord").write_bytes(b"records")
    (tmp_path / "train.json").write_text('{"epochs": 3}')
    rows = Rows()
    lineage = registry.register(
        RegisterConfig(
            registry=reg,
            model_dir=str(model_dir),
            data=(str(data),),
            training_config=str(tmp_path / "train.json"),
            by="ana",
        ),
        rows,
    )
    assert (Path(reg) / "v1" / "saved_model.pb").read_bytes() == b"graph of v1"
    on_disk = store.read_lineage(reg, "v1")
    assert on_disk == lineage
    assert lineage["parent_version"] == "v0"
    assert lineage["registered_by"] == "ana"
    assert lineage["training_config"] == {"epochs": 3}
    assert lineage["data"] == [
        {"path": str(data / "train-00000.tfrecord"), "sha256": hashlib.sha256(b"records").hexdigest(), "bytes": 7}
    ]
    assert lineage["evaluation"]["recall"] == 0.9
    assert [(r["model_version"], r["event"], r["event_by"]) for r in rows.rows] == [("v1", "registered", "ana")]
    with pytest.raises(UserError, match="already registered"):
        registry.register(RegisterConfig(registry=reg, model_dir=str(model_dir)), rows)


def test_an_interrupted_register_is_not_a_version_and_can_be_completed(tmp_path: Path, reg: str) -> None:
    model_dir = fake_export(tmp_path / "m1", "v1", 0.9, 0.8)
    (Path(reg) / "v1").mkdir(parents=True)
    (Path(reg) / "v1" / "firewatch_model.json").write_text((model_dir / "firewatch_model.json").read_text())
    assert store.list_versions(reg) == []
    with pytest.raises(UserError, match="not registered"):
        registry.promote(PromoteConfig(registry=reg, version="v1", model_versions_table=""))
    registry.register(RegisterConfig(registry=reg, model_dir=str(model_dir), model_versions_table=""))
    assert store.list_versions(reg) == ["v1"] and (Path(reg) / "v1" / "saved_model.pb").exists()


def test_promote_refuses_a_worse_version_unless_forced_and_rollback_returns(tmp_path: Path, reg: str) -> None:
    rows = Rows()
    for name, recall in (("v1", 0.9), ("v2", 0.91), ("v3", 0.5)):
        registry.register(
            RegisterConfig(registry=reg, model_dir=str(fake_export(tmp_path / name, name, recall, 0.8))), rows
        )
    registry.promote(PromoteConfig(registry=reg, version="v1", by="ana"), rows)
    assert store.read_pointer(reg, "current") == "v1"
    registry.promote(PromoteConfig(registry=reg, version="v2", by="ana"), rows)
    assert store.read_pointer(reg, "current") == "v2"
    with pytest.raises(UserError, match=r"recall 0.5000 is lower than the current 0.9100.*--force"):
        registry.promote(PromoteConfig(registry=reg, version="v3"), rows)
    assert store.read_pointer(reg, "current") == "v2"
    forced = registry.promote(PromoteConfig(registry=reg, version="v3", force=True), rows)
    assert forced["forced"] and store.read_pointer(reg, "current") == "v3"
    assert registry.rollback(RollbackConfig(registry=reg), rows)["version"] == "v2"
    assert store.read_pointer(reg, "current") == "v2"
    assert registry.rollback(RollbackConfig(registry=reg), rows)["version"] == "v1"
    with pytest.raises(UserError, match="nothing to roll back to"):
        registry.rollback(RollbackConfig(registry=reg), rows)
    assert [r["event"] for r in rows.rows if r["event"] != "registered"] == [
        "promoted",
        "promoted",
        "promoted",
        "rolled_back_to",
        "rolled_back_to",
    ]
    promotions = store.read_lineage(reg, "v2")["promotions"]
    assert [(p["event"], p["by"]) for p in promotions][0] == ("promoted", "ana")
    with pytest.raises(UserError, match="not registered"):
        registry.promote(PromoteConfig(registry=reg, version="v9"), rows)


def test_shadow_and_versions(tmp_path: Path, reg: str) -> None:
    rows = Rows()
    for name in ("v1", "v2"):
        registry.register(
            RegisterConfig(registry=reg, model_dir=str(fake_export(tmp_path / name, name, 0.9, 0.8))), rows
        )
    registry.promote(PromoteConfig(registry=reg, version="v1"), rows)
    registry.shadow(ShadowConfig(registry=reg, version="v2"), rows)
    listed = {r["version"]: r["pointers"] for r in registry.versions(VersionsConfig(registry=reg))}
    assert listed == {"v1": ["current"], "v2": ["shadow"]}
    registry.shadow(ShadowConfig(registry=reg, version="none"), rows)
    assert store.read_pointer(reg, "shadow") is None


def test_the_commands_from_the_cli(tmp_path: Path, reg: str, capsys) -> None:
    for name, recall in (("v1", 0.9), ("v2", 0.4)):
        model_dir = fake_export(tmp_path / name, name, recall, 0.8)
        assert main(["model", "register", reg, str(model_dir), "--model-versions-table", ""]) == 0
    assert main(["model", "promote", reg, "v1", "--model-versions-table", ""]) == 0
    assert main(["model", "promote", reg, "v2", "--model-versions-table", ""]) == 2
    assert "Pass --force" in capsys.readouterr().err
    assert main(["model", "promote", reg, "v2", "--force", "--model-versions-table", ""]) == 0
    assert main(["model", "versions", reg]) == 0
    out = capsys.readouterr().out
    assert "forced past: recall" in out and "v2" in out and "current" in out
    assert main(["model", "rollback", reg, "--model-versions-table", ""]) == 0
    assert store.read_pointer(reg, "current") == "v1"


def test_the_promotion_rules() -> None:
    old = {"recall": 0.9, "precision": 0.8, "real_negative_false_alarm_rate": 0.01}
    assert check_promotion({"recall": 0.89, "precision": 0.8}, old, margin=0.02).allowed
    worse = check_promotion({"recall": 0.9, "precision": 0.8, "real_negative_false_alarm_rate": 0.05}, old, margin=0.02)
    assert not worse.allowed and "real_negative_false_alarm_rate" in worse.problems[0]
    assert check_promotion({"recall": 0.1}, None, margin=0.0).allowed  # nothing current yet
    summary = evaluation_summary(
        {"valid": {"recall": 0.7, "precision": 0.6}},
        {"recall": 0.8, "precision": 0.9, "split": "test", "real_negatives": {"false_alarm_rate": 0.02}},
    )
    assert summary == {
        "recall": 0.8,
        "precision": 0.9,
        "real_negative_false_alarm_rate": 0.02,
        "source": "test split (evaluation.json)",
    }
    history = push_history(push_history([], {"version": "a"}), {"version": "a"})
    assert history == [{"version": "a"}]
    assert pop_history([*history, {"version": "b"}]) == ([{"version": "a"}], "a")
