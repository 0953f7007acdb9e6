"""`firewatch infra apply|destroy|show` through the CLI entry point."""

from __future__ import annotations

import json
import uuid

import pytest

from firewatch.cli import dispatch as cli
from firewatch.cloud import clients as gcp


def test_show_resolves_overrides(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FIREWATCH_STACK_ENV", "none")
    argv = ["infra", "show", "--project", "proj-abc", "--dataset", "fw", "--frames-topic", "cams", "--suffix", "x1"]
    assert cli.main(argv) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["project"] == "proj-abc" and shown["dataset"] == "fw_x1" and shown["frames_topic"] == "cams-x1"
    assert shown["tables"]["alerts_table"] == "proj-abc.fw_x1.alerts"


def test_bad_override_is_a_user_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FIREWATCH_STACK_ENV", "none")
    assert cli.main(["infra", "show", "--project", "proj-abc", "--frames-bucket", "Bad Bucket"]) == 2
    assert "--frames-bucket" in capsys.readouterr().err


def test_destroy_on_a_real_project_needs_yes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FIREWATCH_STACK_ENV", "none")
    for var in gcp.EMULATOR_VARS:
        monkeypatch.delenv(var, raising=False)
    assert cli.main(["infra", "destroy", "--project", "proj-abc"]) == 2
    assert "--yes" in capsys.readouterr().err


@pytest.mark.stack
def test_apply_and_destroy_via_cli(local_stack, capsys: pytest.CaptureFixture[str]) -> None:
    suffix = uuid.uuid4().hex[:8]
    assert cli.main(["infra", "apply", "--suffix", suffix]) == 0
    out = capsys.readouterr().out
    # 5 topics, 7 subscriptions, the dataset, 11 tables, 4 buckets
    assert "the local emulators" in out and out.count("created") == 5 + 7 + 1 + 11 + 4
    assert cli.main(["infra", "apply", "--suffix", suffix]) == 0
    assert capsys.readouterr().out.count("exists") == 5 + 7 + 1 + 11 + 4
    assert cli.main(["infra", "destroy", "--suffix", suffix]) == 0
    assert capsys.readouterr().out.count("deleted") == 7 + 5 + 1 + 4  # subscriptions, topics, dataset, buckets
    datasets = {d.dataset_id for d in gcp.bigquery_client().list_datasets()}
    assert f"firewatch_{suffix}" not in datasets
