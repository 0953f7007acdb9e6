"""The batch pipeline graph: the streaming graph's scoring, fed by bounded sources.

ReadFrames (folder / glob / TFRecords / BigQuery query) -> ScoreFrames (fetch, decode,
RunInference, postprocess; shared with streaming) -> predictions; every failure -> dead
letters; fire frames -> explanations. Sinks: BigQuery tables or JSONL/Parquet files.
Counters in the `firewatch.batch` namespace feed the end-of-run summary.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from batch.config import BatchConfig
from batch.sinks import WriteRowsToFiles
from batch.sources import MODE, ReadFrames
from firewatch.rows import dead_letter_row_id, explanation_row_id, prediction_row_id
from firewatch.transforms import ExplainScored, ModelInfo, ScoreFrames

NAMESPACE = "firewatch.batch"
ROW_IDS = {"predictions": prediction_row_id, "dead_letters": dead_letter_row_id, "explanations": explanation_row_id}


class Count(beam.DoFn):
    """Passes elements through, counting them (and fire rows) for the summary."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._count = Metrics.counter(NAMESPACE, name)
        self._fire = Metrics.counter(NAMESPACE, "fire")

    def process(self, row):
        self._count.inc()
        if self._name == "predictions" and row.get("label") == "fire":
            self._fire.inc()
        yield row


def build(pipeline: beam.Pipeline, cfg: BatchConfig, info: ModelInfo | None = None) -> None:
    info = info or ModelInfo.read(cfg.model)
    project = cfg.resolved_project() if cfg.needs_project else None
    read = pipeline | "Read" >> ReadFrames(cfg.input, cfg.limits(), cfg.camera_id, project)
    scored = read["requests"] | "Score" >> ScoreFrames(
        info,
        cfg.limits(),
        MODE,
        max_batch_size=cfg.max_batch_size,
        explain=cfg.explanation if cfg.explain else None,
    )
    outputs = {
        "predictions": scored["predictions"],
        "dead_letters": [read["dead_letters"], scored["dead_letters"]],
    }
    if cfg.explain:
        explained = scored["to_explain"] | "Explanations" >> ExplainScored(
            cfg.model, cfg.overlay_prefix(), cfg.explanation, MODE
        )
        outputs["explanations"] = explained["rows"]
        outputs["dead_letters"].append(explained["dead_letters"])
    outputs["dead_letters"] = tuple(outputs["dead_letters"]) | "AllDeadLetters" >> beam.Flatten()

    tables = {
        "predictions": cfg.predictions_table,
        "dead_letters": cfg.dead_letters_table,
        "explanations": cfg.explanations_table,
    }
    for name, rows in outputs.items():
        counted = rows | f"Count_{name}" >> beam.ParDo(Count(name))
        if cfg.to_bigquery:
            from firewatch.bigquery_io import WriteToBigQueryRows

            counted | f"Write_{name}" >> WriteToBigQueryRows(cfg.table(tables[name]), row_id=ROW_IDS[name])
        else:
            counted | f"Write_{name}" >> WriteRowsToFiles(cfg.output, name, cfg.output_format)
