"""`firewatch` model commands: flags map onto the pydantic configs; bad values are user errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from firewatch.cli import main


def test_synth_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert (
        main(["data", "synth", "--out", str(tmp_path), "--count", "4", "--seed", "3", "--size", "96", "--workers", "1"])
        == 0
    )
    assert len(list((tmp_path / "fire").glob("*.jpg"))) == 2
    assert "SYNTHETIC" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--data", "d", "--output", "o", "--epochs", "0"], "--epochs"),
        (["train", "--data", "d", "--output", "o", "--target-recall", "1.5"], "--target-recall"),
        (["data", "synth", "--out", "x", "--count", "1"], "--count"),
    ],
)
def test_invalid_options_are_user_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_missing_data_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["data", "ingest", "--input", str(tmp_path / "none"), "--output", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
