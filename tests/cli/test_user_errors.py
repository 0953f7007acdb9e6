"""Every error a user can cause prints one line first that names the problem and what to do: the
first line of output is checked, and no traceback follows."""

import json
import subprocess
import sys

import pytest

from firewatch.cli import main


def first_line(capsys) -> str:
    captured = capsys.readouterr()
    text = captured.err + captured.out
    assert "Traceback" not in text
    return text.splitlines()[0]


def run(argv, capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    return code, first_line(capsys)


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["stream", "--modle", "x"], "firewatch stream: error: unknown flag --modle (did you mean --model?)"),
        (["publish", "--fst", "frames/"], "firewatch publish: error: unknown flag --fst (did you mean --fast?)"),
        (["tune", "--data", "d", "--output", "o", "--trails", "3"], "firewatch tune: error: unknown flag --trails"),
        (["strem"], "firewatch: error: unknown command 'strem' (did you mean stream?)"),
        (["evaluate", "--model", "m"], "firewatch evaluate: error: --data, --output are required"),
        (["publish", "--fast=maybe", "x"], "firewatch publish: error: argument --fast: 'maybe' is not a boolean"),
        (["stream"], "firewatch: error: invalid StreamingConfig: give exactly one of --model"),
        (["export-tflite", "--model", "m", "--data", "d", "--output", "o", "--latency-runs", "0"], "firewatch: "
         "error: invalid ExportTFLiteConfig: --latency-runs: Input should be greater than or equal to 1"),
    ],
)  # fmt: skip
def test_the_first_line_names_the_mistake(argv, line, capsys):
    code, first = run(argv, capsys)
    assert code == 2 and first.startswith(line), first


def test_unknown_flags_of_a_beam_command_are_told_from_beam_options(capsys):
    argv = ["batch", "--model", "m", "--input", "i", "--output", "o", "--runner", "X", "--max-batch-sise"]
    code, first = run(argv, capsys)
    expected = "firewatch batch: error: unknown flag --max-batch-sise (did you mean --max-batch-size?)"
    assert code == 2 and first.startswith(expected)


def test_console_checks_its_model_at_start_up(tmp_path, capsys):
    code, first = run(["console", "--model", str(tmp_path)], capsys)
    assert code == 2
    assert first == (
        f"firewatch: error: --model {tmp_path}: {tmp_path}/firewatch_model.json not found: {tmp_path} is not an "
        "exported Firewatch model (run `firewatch train`)"
    )
    (tmp_path / "firewatch_model.json").write_text(json.dumps({"model_version": "v1"}))
    code, first = run(["console", "--model", str(tmp_path)], capsys)
    assert code == 2 and first.startswith(f"firewatch: error: --model {tmp_path}: {tmp_path}/firewatch_model.json is")
    assert "class_names: Field required" in first


def test_a_folder_with_metadata_but_no_saved_model_is_not_a_model(controlled_model_dir, tmp_path):
    from firewatch.errors import UserError
    from streaming.runner import read_model

    assert read_model(str(controlled_model_dir)).model_dir == str(controlled_model_dir)
    (tmp_path / "firewatch_model.json").write_text((controlled_model_dir / "firewatch_model.json").read_text())
    with pytest.raises(UserError, match=f"--model {tmp_path}: .*no saved_model.pb"):
        read_model(str(tmp_path))


@pytest.mark.stack
def test_stream_with_a_missing_model_folder_says_so_in_its_first_line(gcp_resources, tmp_path):
    from tests.fixtures.streaming_helpers import stream_args

    missing = tmp_path / "no-such-model"
    argv = [sys.executable, "-m", "firewatch.cli", "stream", "--model", str(missing), *stream_args(gcp_resources)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert lines[0] == (
        f"firewatch: error: --model {missing}: {missing}/firewatch_model.json not found: {missing} is not an "
        "exported Firewatch model (run `firewatch train`)"
    )


def test_an_unexpected_error_is_one_line_and_its_trace_only_with_verbose(monkeypatch, tmp_path, capsys):
    from firewatch.cli import templates

    def broken(args):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(templates, "_write", broken)
    code, first = run(["template", "--out", str(tmp_path)], capsys)
    assert code == 1 and first == "firewatch: error: RuntimeError: disk on fire"
    with pytest.raises(RuntimeError, match="disk on fire"):
        main(["--verbose", "template", "--out", str(tmp_path)])
    assert capsys.readouterr().err.splitlines()[0] == "firewatch: error: RuntimeError: disk on fire"


@pytest.mark.stack
def test_stream_with_a_broken_saved_model_says_so_in_its_first_line(gcp_resources, controlled_model_dir, tmp_path):
    import shutil

    from tests.fixtures.streaming_helpers import stream_args

    broken = tmp_path / "broken-model"
    shutil.copytree(controlled_model_dir, broken)
    (broken / "saved_model.pb").write_bytes(b"not a SavedModel")
    argv = [sys.executable, "-m", "firewatch.cli", "stream", "--model", str(broken), *stream_args(gcp_resources)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=180)
    lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert lines[0].startswith(f"firewatch: error: --model {broken}: its SavedModel cannot be loaded"), lines[:5]
