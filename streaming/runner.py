"""Runs the streaming pipeline and stops it cleanly on Ctrl-C / SIGTERM.

Locally (no --runner given) it uses Beam's BundleBasedDirectRunner in streaming mode,
the local runner that reads Pub/Sub (see shared notes: the default DirectRunner tries
to download Prism, and FnApiRunner does not stream from Pub/Sub). On Dataflow the job
is submitted and this returns at once (see `firewatch.beam.submission`).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.runner import PipelineState

from firewatch.beam.submission import describe_submission
from firewatch.cloud.clients import prepare_beam_offline_auth
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
    pipeline = beam.Pipeline(options=options)
    graph.build(pipeline, cfg)
    result = pipeline.run()
    if not is_local(options):
        # Under the flex launcher there is no job (template mode): never wait or ask for its id.
        print(describe_submission("streaming", result, options), flush=True)
        return 0

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"firewatch stream: running locally on {cfg.subscription_path()} (Ctrl-C to stop)", flush=True)
    code = 0
    while not stop.wait(1.0):
        state = result.state
        if PipelineState.is_terminal(state):
            log.error("pipeline ended on its own in state %s", state)
            code = 1 if state == PipelineState.FAILED else 0
            break
    print("firewatch stream: stopping", flush=True)
    # cancel() waits for the runner's blocking Pub/Sub pull (~30 s); don't wait for it.
    threading.Thread(target=result.cancel, daemon=True).start()
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)  # the local runner's worker threads are not daemons; end the process now
