"""GPU workers: every process that loads the model lets TensorFlow take GPU memory as it needs it
(issue 21, item 4). There is no GPU here: a fake `tensorflow` lists two, and records the calls."""

from __future__ import annotations

import sys
import types

import pytest

from firewatch.beam import explain_process, model_handler
from firewatch.cloud import models

GPU_GROWTH_ENV = "TF_FORCE_GPU_ALLOW_GROWTH"  # what TensorFlow reads


class FakeTF(types.ModuleType):
    """`tf.config.list_physical_devices` / `experimental.set_memory_growth`, with a call log."""

    def __init__(self, log: list[str], gpus: tuple[str, ...] = ("GPU:0", "GPU:1")) -> None:
        super().__init__("tensorflow")
        experimental = types.SimpleNamespace(
            set_memory_growth=lambda gpu, on: log.append(f"growth {gpu} {on}"),
        )
        self.config = types.SimpleNamespace(
            list_physical_devices=lambda kind: list(gpus) if kind == "GPU" else [],
            experimental=experimental,
        )


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    monkeypatch.setitem(sys.modules, "tensorflow", FakeTF(calls))
    monkeypatch.delenv(GPU_GROWTH_ENV, raising=False)
    monkeypatch.setattr(models, "load_exported", lambda model_dir: calls.append(f"load {model_dir}") or "model")
    return calls


def test_the_explaining_child_sets_memory_growth_on_every_gpu_before_loading(log, monkeypatch):
    monkeypatch.setattr("firewatch.core.attribution.warm_up", lambda fn: log.append("warm up"))
    monkeypatch.setattr(explain_process, "_CHILD_MODELS", {})
    monkeypatch.setattr(models, "load_exported", lambda d: log.append(f"load {d}") or types.SimpleNamespace(float_fn=0))
    explain_process._child_model("/m")
    assert log == ["growth GPU:0 True", "growth GPU:1 True", "load /m", "warm up"]


def test_the_child_environment_asks_for_growth_before_tensorflow_is_imported(monkeypatch):
    monkeypatch.delenv(GPU_GROWTH_ENV, raising=False)
    explain_process._child_environment()
    assert explain_process.os.environ[GPU_GROWTH_ENV] == "true"


def test_a_spawned_explaining_child_has_growth_in_its_environment(monkeypatch):
    """The real child (spawned by the pool, through its initializer) sees the variable."""
    monkeypatch.delenv(GPU_GROWTH_ENV, raising=False)
    pool = explain_process._pool("/no-model-needed")
    try:
        assert pool.submit(explain_process.os.getenv, GPU_GROWTH_ENV).result(timeout=60) == "true"
    finally:
        explain_process._forget("/no-model-needed", pool)


def test_the_scoring_process_sets_growth_before_loading(log):
    assert model_handler.load_scoring_model("/m") == "model"
    assert log == ["growth GPU:0 True", "growth GPU:1 True", "load /m"]
    assert models.os.environ[GPU_GROWTH_ENV] == "true"


def test_a_device_already_initialised_is_skipped_not_fatal(monkeypatch):
    def refuse(gpu, on):
        raise RuntimeError("Physical devices cannot be modified after being initialized")

    tf = FakeTF([])
    tf.config.experimental.set_memory_growth = refuse
    monkeypatch.delenv(GPU_GROWTH_ENV, raising=False)
    assert models.allow_gpu_memory_growth(tf) == 0
