"""Explanations in a child process at the lowest CPU priority, so they never hold scoring's GIL.

Integrated Gradients and XRAI cost about half a second of CPU per frame, much of it Python (XRAI's
region merging) that holds the interpreter lock: on a thread of the worker process, even at nice 19,
it slows every camera's decode, inference calls and writes. In a child process (spawned, one per
worker process and model directory) the kernel's priority applies to all of it: scoring gets the
CPU first and explanations take what is left.

`explain_in_child(model_dir, inputs, config)` returns the same `Explanation`s as
`firewatch.core.explain.explain_images` in this process would; the child loads the model from
`model_dir` once (gs:// through the same loader) and keeps it. `warm_up_child(model_dir)` starts
the child and loads and traces the model ahead of the first fire frame. A child that dies (killed,
out of memory) is replaced at the next call; the frames of the failed call get the error, which
the explain step turns into dead letters like any other explain failure. A child whose worker
process dies stops by itself within seconds. On a GPU worker the child takes GPU memory as it needs
it (`firewatch.cloud.models.allow_gpu_memory_growth`), like the worker process, so the two share
the GPU instead of the first one taking all of it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np

from firewatch.core.explain import ExplainConfig, Explanation

_LOG = logging.getLogger(__name__)
LOW_PRIORITY = 19

_POOLS: dict[str, ProcessPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()

# In the child: the loaded models by directory.
_CHILD_MODELS: dict[str, Any] = {}


def _child_environment() -> None:
    """Before the child imports TensorFlow: GPU memory is taken as needed, so the child's model does
    not take the GPU's memory from the worker process's inference (issue 21, item 4)."""
    from firewatch.cloud.models import GPU_GROWTH_ENV

    os.environ[GPU_GROWTH_ENV] = "true"


def _child_init() -> None:
    _child_environment()
    try:
        os.setpriority(os.PRIO_PROCESS, 0, LOW_PRIORITY)
    except (AttributeError, OSError) as exc:  # not Linux/Unix: normal priority
        _LOG.info("the explaining process runs at normal priority: %s", exc)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True).start()


def _exit_with_parent(parent: int, every_s: float = 2.0) -> None:
    """A worker killed outright (SIGKILL, out of memory) cannot stop its child: the child stops itself
    (it holds its task queue's write end too, so it would never see the queue close)."""
    while True:
        time.sleep(every_s)
        if os.getppid() != parent:
            os._exit(0)


def _child_model(model_dir: str) -> Any:
    model = _CHILD_MODELS.get(model_dir)
    if model is None:
        from firewatch.cloud.models import allow_gpu_memory_growth, load_exported
        from firewatch.core.attribution import warm_up

        allow_gpu_memory_growth()  # before the first TF GPU use in this process
        model = load_exported(model_dir)
        warm_up(model.float_fn)
        _CHILD_MODELS[model_dir] = model
    return model


def _child_explain(model_dir: str, inputs: list[np.ndarray], config: ExplainConfig) -> list[Explanation]:
    from firewatch.core.explain import explain_images

    return explain_images(_child_model(model_dir).float_fn, inputs, config)


def _child_warm(model_dir: str) -> str:
    return str(_child_model(model_dir).metadata.model_version)


def _pool(model_dir: str) -> ProcessPoolExecutor:
    with _POOLS_LOCK:
        pool = _POOLS.get(model_dir)
        if pool is None:
            # spawn, not fork: the parent runs TensorFlow and Beam threads, which fork would copy mid-state.
            context = multiprocessing.get_context("spawn")
            pool = ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=_child_init)
            _POOLS[model_dir] = pool
        return pool


def _forget(model_dir: str, pool: ProcessPoolExecutor) -> None:
    with _POOLS_LOCK:
        if _POOLS.get(model_dir) is pool:
            del _POOLS[model_dir]
    pool.shutdown(wait=False, cancel_futures=True)


def explain_in_child(model_dir: str, inputs: Sequence[np.ndarray], config: ExplainConfig) -> list[Explanation]:
    """`explain_images` of `inputs` in the child process for `model_dir` (started on first use)."""
    pool = _pool(model_dir)
    try:
        return pool.submit(_child_explain, model_dir, [np.asarray(x, np.float32) for x in inputs], config).result()
    except BrokenProcessPool:
        _forget(model_dir, pool)  # the next call starts a new child
        raise


def warm_up_child(model_dir: str) -> str:
    """Start the child for `model_dir` and load and trace its model now; returns the model version."""
    pool = _pool(model_dir)
    try:
        return pool.submit(_child_warm, model_dir).result()
    except BrokenProcessPool:
        _forget(model_dir, pool)
        raise


def child_pids() -> list[int]:
    """The explaining children's process ids (tests and the benchmark)."""
    with _POOLS_LOCK:
        return [pid for pool in _POOLS.values() for pid in (getattr(pool, "_processes", None) or {})]
