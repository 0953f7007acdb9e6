"""Runs the batch pipeline to completion and prints a summary.

Locally (no --runner given) it uses Beam's FnApiRunner directly (the default DirectRunner
first tries to download the Prism runner, which an offline machine cannot). On Dataflow
it submits the job and returns at once without a summary: under the flex-template launcher
there is no job to wait for or to query (see `firewatch.beam.submission`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from batch import pipeline as graph
from batch.config import BatchConfig
from firewatch.beam.submission import describe_submission, is_local
from firewatch.cloud.clients import prepare_beam_offline_auth


@dataclass
class BatchSummary:
    predictions: int
    fire: int
    dead_letters: int
    explanations: int
    seconds: float

    @property
    def inputs(self) -> int:
        return self.predictions + self.dead_letters

    def render(self) -> str:
        rate = self.fire / self.predictions if self.predictions else 0.0
        throughput = self.inputs / self.seconds if self.seconds else 0.0
        return (
            f"batch summary: {self.inputs} inputs -> {self.predictions} predictions "
            f"({self.fire} fire, fire rate {rate:.1%}), {self.dead_letters} dead letters, "
            f"{self.explanations} explanations; {self.seconds:.1f} s, {throughput:.1f} images/s"
        )


def _counter(result, name: str) -> int:
    found = result.metrics().query(MetricsFilter().with_namespace(graph.NAMESPACE).with_name(name))["counters"]
    return int(sum(c.committed if c.committed is not None else c.attempted for c in found))


def check_input(spec: str) -> None:
    """Fail before building the pipeline when a file input matches nothing."""
    from apache_beam.io.filesystems import FileSystems

    from firewatch.beam.sources import image_pattern, source_kind
    from firewatch.errors import UserError

    kind = source_kind(spec)
    if kind == "bigquery":
        return
    pattern = spec.split(":", 1)[1] if spec.lower().startswith("tfrecord:") else spec
    pattern = image_pattern(pattern) if kind == "images" else pattern
    try:
        matched = FileSystems.match([pattern])[0].metadata_list
    except Exception as exc:  # noqa: BLE001 - e.g. a missing local folder
        raise UserError(f"--input {spec}: cannot list it ({exc})") from None
    if not matched:
        raise UserError(f"--input {spec}: no files match {pattern}; check the path or glob")


def run(cfg: BatchConfig, beam_args: Sequence[str] = ()) -> BatchSummary | None:
    """Run locally and summarise, or submit to a remote runner and return None at once."""
    prepare_beam_offline_auth()
    check_input(cfg.input)
    args = cfg.pipeline_args(list(beam_args), need_project=cfg.needs_project)
    runner = None
    if not any(a.startswith("--runner") for a in args):
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner

        runner = FnApiRunner()
    options = PipelineOptions(args)
    began = time.monotonic()
    pipeline = beam.Pipeline(runner=runner, options=options)
    graph.build(pipeline, cfg)
    result = pipeline.run()
    if runner is None and not is_local(options):
        # Dataflow (or the flex launcher, in template mode: no job exists here). Never wait.
        print(describe_submission("batch", result, options), flush=True)
        return None
    result.wait_until_finish()
    return BatchSummary(
        predictions=_counter(result, "predictions"),
        fire=_counter(result, "fire"),
        dead_letters=_counter(result, "dead_letters"),
        explanations=_counter(result, "explanations"),
        seconds=time.monotonic() - began,
    )
