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


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "--model", "m", "--data", "d", "--output", "gs://bucket/eval"],
        ["data", "synth", "--out", "gs://bucket/images"],
        ["train", "--data", "d", "--output", "o", "--work-dir", "gs://bucket/work"],
        ["model", "demo", "--output", "gs://bucket/demo"],
    ],
)
def test_remote_output_folders_are_rejected(argv: list[str], capsys: pytest.CaptureFixture[str]):
    assert main(argv) == 2
    assert "must be a local folder" in capsys.readouterr().err
    assert not Path("gs:").exists()


def test_empty_split_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    root = tmp_path / "images"
    assert main(["data", "synth", "--out", str(root), "--count", "4", "--size", "96", "--workers", "1"]) == 0
    assert main(["data", "ingest", "--input", str(root), "--output", str(tmp_path / "records")]) == 0
    capsys.readouterr()
    assert main(["train", "--data", str(tmp_path / "records"), "--output", str(tmp_path / "model")]) == 2
    err = capsys.readouterr().err
    assert "split in" in err and "has no images" in err and "add more images" in err
    assert "Traceback" not in err


def test_corrupt_model_metadata_is_a_user_error(
    tmp_path: Path, demo_tfrecords_dir: Path, capsys: pytest.CaptureFixture[str]
):
    model = tmp_path / "model"
    model.mkdir()
    (model / "firewatch_model.json").write_text("{not json")
    argv = ["evaluate", "--model", str(model), "--data", str(demo_tfrecords_dir), "--output", str(tmp_path / "e")]
    assert main(argv) == 2
    assert "is not valid Firewatch model metadata" in capsys.readouterr().err
