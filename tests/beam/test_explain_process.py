"""Explanations in a child process: the same rows as in the worker process, at the lowest priority."""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from firewatch.beam.explain_process import child_pids
from firewatch.beam.explanation import ExplainFrames
from firewatch.core.contract import FrameRequest
from firewatch.core.explain import ExplainConfig
from firewatch.core.prediction import Prediction, ScoredFrame


def _element(key: str, red: float, size: int) -> tuple[Prediction, np.ndarray, None]:
    request = FrameRequest(message_id=f"m-{key}", camera_id="cam", image_bytes=b"x", captured_at=datetime.now(UTC))
    frame = ScoredFrame(request, key, 64, 64)
    prediction = Prediction.of(
        frame, 0.99, threshold=0.5, model_version="v", mode="streaming", processed_at=datetime.now(UTC), explain=True
    )
    pixels = np.zeros((size, size, 3), np.float32)
    pixels[size // 4 : size // 2, size // 3 : 2 * size // 3, 0] = red
    pixels[..., 2] = 0.2
    return dataclasses.replace(prediction, frame_key=key), pixels, None


def _explain(model_dir: str, prefix: str, config: ExplainConfig, elements) -> list[dict]:
    dofn = ExplainFrames(model_dir, prefix, config, "streaming")
    dofn.setup()
    return [row for element in elements for row in dofn.process(element)]


def test_the_child_process_explains_like_the_worker_and_runs_at_the_lowest_priority(
    controlled_model_dir: Path, tmp_path: Path
):
    from firewatch.cloud.models import read_metadata

    size = read_metadata(str(controlled_model_dir)).image_size
    elements = [_element(f"cam/{i}", red, size) for i, red in enumerate((0.9, 0.6))]
    config = ExplainConfig(steps=8, min_interval_seconds=0)
    in_child = _explain(str(controlled_model_dir), str(tmp_path / "child"), config, elements)
    in_worker = _explain(
        str(controlled_model_dir),
        str(tmp_path / "worker"),
        config.model_copy(update={"separate_process": False}),
        elements,
    )
    assert len(in_child) == len(in_worker) == 2
    for child, worker in zip(in_child, in_worker, strict=True):
        assert isinstance(child, dict), child  # a row, not a dead letter
        assert child["frame_key"] == worker["frame_key"]
        assert child["fire_probability"] == pytest.approx(worker["fire_probability"], abs=1e-5)
        assert child["approximation_error"] == pytest.approx(worker["approximation_error"], abs=1e-4)
        assert [r["share"] for r in child["top_regions"]] == pytest.approx(
            [r["share"] for r in worker["top_regions"]], abs=1e-3
        )
        assert Path(child["overlay_uri"]).is_file()
    pids = child_pids()
    assert pids and all(pid != os.getpid() for pid in pids)
    assert {os.getpriority(os.PRIO_PROCESS, pid) for pid in pids} == {19}


def test_a_child_whose_worker_is_killed_stops_by_itself(tmp_path: Path):
    """SIGKILL the worker process (no clean shutdown): its explaining child exits within seconds."""
    import signal
    import subprocess
    import sys
    import time

    script = (
        "import os, sys\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        "from firewatch.beam import explain_process as ep\n"
        "pool = ep._pool('unused-model-dir')\n"
        "pool.submit(os.getpid).result()\n"
        "print(*ep.child_pids(), flush=True)\n"
        "import time; time.sleep(60)\n"
    )
    worker = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=tmp_path,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})  # fmt: skip
    (child,) = map(int, worker.stdout.readline().split())
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.2)
    assert not _alive(child), f"explaining child {child} outlived its worker"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie (exited, not yet reaped by init) is not alive
        return stat.read().split(") ")[1][0] != "Z"
