"""The batch pipeline graph: the streaming graph's scoring, fed by bounded sources.

ReadFrames (folder / glob / TFRecords / BigQuery query) -> ScoreFrames (fetch, decode,
RunInference, postprocess; shared with streaming) -> predictions; every failure -> dead
letters. With `--inference-engine tfx-bsl` (TFRecords only) the records go to tfx-bsl's
RunInference instead (`batch.tfx_engine`), with the same outputs. The frames chosen for
explanation -> explanations. `WriteResults` writes them to BigQuery tables or JSONL/Parquet
files. Counters in the `firewatch.batch` namespace feed the end-of-run summary.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from batch.config import BatchConfig
from firewatch.beam.explanation import ExplainScored
from firewatch.beam.scoring import ModelInfo, ScoreFrames
from firewatch.beam.sinks import Destinations, WriteResults
from firewatch.beam.sources import MODE, ReadFrames, tfrecord_pattern

NAMESPACE = "firewatch.batch"


class Count(beam.DoFn):
    """Passes elements through, counting them (and fire predictions) for the summary."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._count = Metrics.counter(NAMESPACE, name)
        self._fire = Metrics.counter(NAMESPACE, "fire")

    def process(self, element):
        self._count.inc()
        if self._name == "predictions" and element.label == "fire":
            self._fire.inc()
        yield element


def destinations(cfg: BatchConfig) -> Destinations:
    if not cfg.to_bigquery:
        return Destinations(folder=cfg.output, file_format=cfg.output_format)
    tables = {
        "predictions": cfg.predictions_table,
        "dead_letters": cfg.dead_letters_table,
        "explanations": cfg.explanations_table,
    }
    return Destinations(
        tables={name: cfg.table(table) for name, table in tables.items()},
        write_batch_rows=cfg.write_batch_rows,
        write_buffer_seconds=cfg.write_buffer_seconds or 0.0,  # batch: big bundles; only when asked
    )


def score(pipeline: beam.Pipeline, cfg: BatchConfig, info: ModelInfo) -> tuple[dict, list]:
    """Read and score with the configured engine -> (scored outputs, dead letters of the read)."""
    explain = cfg.explanation if cfg.explain else None
    if cfg.inference_engine == "tfx-bsl":
        from batch.tfx_engine import TfxScoreRecords

        records = pipeline | "ReadTFRecords" >> beam.io.ReadFromTFRecord(tfrecord_pattern(cfg.input))
        scored = records | "TfxScore" >> TfxScoreRecords(
            info, cfg.limits(), cfg.camera_id, max_batch_size=cfg.max_batch_size, explain=explain
        )
        return scored, []
    project = cfg.resolved_project() if cfg.needs_project else None
    read = pipeline | "Read" >> ReadFrames(cfg.input, cfg.limits(), cfg.camera_id, project)
    scored = read["requests"] | "Score" >> ScoreFrames(
        info,
        cfg.limits(),
        MODE,
        max_batch_size=cfg.max_batch_size,
        explain=explain,
        masks=cfg.mask_source(),
        regions=cfg.regions,
        baselines=cfg.baseline_source(),
        baseline_config=cfg.baselines,
        night=cfg.night,
    )
    return scored, [read["dead_letters"]]


def build(pipeline: beam.Pipeline, cfg: BatchConfig, info: ModelInfo | None = None) -> None:
    info = info or ModelInfo.read(cfg.model)
    scored, read_dead = score(pipeline, cfg, info)
    results = {"predictions": scored["predictions"]}
    dead = [*read_dead, scored["dead_letters"]]
    if cfg.explain:
        explained = scored["to_explain"] | "Explanations" >> ExplainScored(
            cfg.model, cfg.overlay_prefix(), cfg.explanation, MODE
        )
        results["explanations"] = explained["rows"]
        dead.append(explained["dead_letters"])
    results["dead_letters"] = tuple(dead) | "AllDeadLetters" >> beam.Flatten()
    counted = {name: pcoll | f"Count_{name}" >> beam.ParDo(Count(name)) for name, pcoll in results.items()}
    counted | "Write" >> WriteResults(destinations(cfg))
