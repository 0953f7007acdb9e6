"""Runs the streaming pipeline and stops it cleanly on Ctrl-C / SIGTERM.

Locally (no --runner given) it uses Beam's BundleBasedDirectRunner in streaming mode,
the local runner that reads Pub/Sub (see shared notes: the default DirectRunner tries
to download Prism, and FnApiRunner does not stream from Pub/Sub), with its Pub/Sub read
replaced so messages are acknowledged only once their rows are written
(`firewatch.localrun.pubsub`); a stop drains what was pulled. On Dataflow the job is
submitted and this returns at once (see `firewatch.beam.submission`).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.runner import PipelineResult, PipelineState

from firewatch.beam import explanation, model_handler
from firewatch.beam.scoring import ModelInfo
from firewatch.beam.submission import describe_submission
from firewatch.cloud.clients import prepare_beam_offline_auth
from firewatch.cloud.models import check_model_dir
from firewatch.errors import ModelError, UserError
from firewatch.localrun import dofn_specs
from firewatch.localrun import pubsub as local_pubsub
from streaming import liveness, preflight, startup
from streaming import pipeline as graph
from streaming.config import StreamingConfig

LOCAL_RUNNER = "BundleBasedDirectRunner"
log = logging.getLogger("firewatch.stream")


def pipeline_options(beam_args: Sequence[str], cfg: StreamingConfig) -> PipelineOptions:
    args = cfg.pipeline_args(list(beam_args), need_project=True)
    if not any(a.startswith("--runner") for a in args):
        args.append(f"--runner={LOCAL_RUNNER}")
    options = PipelineOptions(args)
    options.view_as(StandardOptions).streaming = True
    return options


def is_local(options: PipelineOptions) -> bool:
    runner = options.view_as(StandardOptions).runner or ""
    return "Direct" in runner


def run(cfg: StreamingConfig, beam_args: Sequence[str]) -> int:
    prepare_beam_offline_auth()
    options = pipeline_options(beam_args, cfg)
    if is_local(options):
        local_pubsub.install()  # acknowledge after the rows are written (see firewatch.localrun.pubsub)
        dofn_specs.install()  # DoFn state specs looked up once per class, not per bundle
    if is_local(options):
        preflight.check(cfg)  # a missing subscription, topic or table: one line and exit, before anything loads
    info = read_model(cfg.model_dir(), loads_here=is_local(options))
    if is_local(options):
        # Before the first read, not while the first frames wait (Dataflow loads it at worker start-up).
        startup.preload_model(lambda: model_handler.preload(info.model_dir, info.image_size), info.model_dir)
        if cfg.explain:
            # Not at the first fire frame, while every camera waits.
            explanation.preload(info.model_dir, cfg.explanation.separate_process)
    pipeline = beam.Pipeline(options=options)
    graph.build(pipeline, cfg, info)
    result = pipeline.run()
    if not is_local(options):
        # Under the flex launcher there is no job (template mode): never wait or ask for its id.
        print(describe_submission("streaming", result, options), flush=True)
        return 0
    return run_locally(result, cfg)


def read_model(model_dir: str, *, loads_here: bool = True) -> ModelInfo:
    """The model's metadata; for a job that loads the model in this process (`loads_here`: the local
    runner), after checking without TF that the folder holds a SavedModel too. A missing or wrong
    folder is one line naming it, before anything loads."""
    if loads_here:
        try:
            check_model_dir(model_dir)
        except (FileNotFoundError, ModelError) as exc:
            raise UserError(f"--model {model_dir}: {exc}") from None
    return ModelInfo.read(model_dir)


def print_metrics(result: PipelineResult) -> None:
    """The job's own counters and distributions (batch sizes, explanations decided), one JSON line.
    Locally a stop comes before the runner commits the last bundles' metrics, so each counter counts
    what was attempted when that is more than what was committed (rows written, acknowledged)."""
    try:
        found = result.metrics().query()
    except Exception as exc:  # noqa: BLE001 - a summary only: never fail a stop for it
        log.info("no metrics: %s", exc)
        return
    summary: dict[str, object] = {}
    for counter in found.get("counters", []):
        if counter.key.metric.namespace.startswith("firewatch"):
            name = f"{counter.key.metric.namespace}/{counter.key.metric.name}"
            summary[name] = summary.get(name, 0) + max(counter.committed or 0, counter.attempted or 0)
    for dist in found.get("distributions", []):
        if dist.key.metric.namespace.startswith("firewatch"):
            value = dist.committed or dist.attempted
            if value is not None and value.count:
                name = f"{dist.key.metric.namespace}/{dist.key.metric.name}"
                summary[name] = {"count": value.count, "mean": value.mean, "min": value.min, "max": value.max}
    if model_handler.BATCH_SIZES:
        summary["inference_batch_sizes"] = dict(sorted(model_handler.BATCH_SIZES.items()))
    if model_handler.MODEL_EVENTS:  # --model-registry: versions swapped in, versions that failed to load
        summary["model_registry"] = dict(model_handler.MODEL_EVENTS)
    if model_handler.SHADOW_EVENTS:  # shadow scoring: frames scored, frames while `shadow` was unset, failures
        summary["shadow"] = dict(model_handler.SHADOW_EVENTS)
    print(f"firewatch stream: metrics {json.dumps(summary, sort_keys=True)}", flush=True)


def run_locally(result: PipelineResult, cfg: StreamingConfig) -> int:
    """Run until Ctrl-C / SIGTERM, then drain: stop pulling, wait until every pulled message is
    written and acknowledged (at most --drain-seconds), and exit. What is not drained is
    redelivered by Pub/Sub to the next run: nothing is lost either way."""
    logging.getLogger("firewatch").setLevel(logging.INFO)  # its own notes (released cameras, drain) in the log
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"firewatch stream: running locally on {cfg.subscription_path()} (Ctrl-C to stop)", flush=True)
    started_at = time.time()
    beating = None
    if cfg.heartbeat_file:
        content = lambda: liveness.snapshot(  # noqa: E731
            local_pubsub.trackers(), started_at, cfg.subscription_path(), time.time()
        )
        beating = liveness.start(cfg.heartbeat_file, content)
    code = 0
    while not stop.wait(1.0):
        state = result.state
        if PipelineState.is_terminal(state):
            log.error("pipeline ended on its own in state %s", state)
            code = 1 if state == PipelineState.FAILED else 0
            break
        failure = local_pubsub.fatal()
        if failure:
            print(f"firewatch stream: error: {failure}", file=sys.stderr, flush=True)
            code = 1
            break
    if beating is not None:
        beating.set()  # the heartbeat goes stale from now on: the job is stopping
    trackers = local_pubsub.trackers()
    for tracker in trackers:
        tracker.stop_pulling()
    in_flight = sum(t.in_flight() for t in trackers)
    print(f"firewatch stream: stopping, draining {in_flight} message(s) in flight", flush=True)
    drained = all(t.wait_drained(cfg.drain_seconds) for t in trackers) if code == 0 else False
    left = sum(t.in_flight() for t in trackers)
    print(f"firewatch stream: {'drained' if drained else f'{left} message(s) left for redelivery'}", flush=True)
    print_metrics(result)
    # cancel() waits for the runner's worker threads; don't wait for it.
    threading.Thread(target=result.cancel, daemon=True).start()
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)  # the local runner's worker threads are not daemons; end the process now
