"""The streaming pipeline graph.

ReadFromPubSub (with attributes) -> validate -> ScoreFrames (fetch, decode, RunInference,
postprocess) -> predictions table; every failure -> dead_letters table; predictions ->
per-camera confirmation -> alert topic + alerts table; fire frames -> explanations on a
separate branch (explanations table + overlay PNGs), so explaining never holds up rows or
alerts. The same graph runs on the local runner (emulators) and on Dataflow.
"""

from __future__ import annotations

import apache_beam as beam

from firewatch.alerting import ConfirmAndAlert, to_pubsub_message
from firewatch.bigquery_io import WriteToBigQueryRows
from firewatch.transforms import DEAD, ExplainScored, ModelInfo, ParsePubsubMessages, ScoreFrames
from streaming.config import StreamingConfig

MODE = "streaming"


def build(pipeline: beam.Pipeline, cfg: StreamingConfig, info: ModelInfo | None = None) -> None:
    info = info or ModelInfo.read(cfg.model)
    messages = pipeline | "ReadFrames" >> beam.io.ReadFromPubSub(
        subscription=cfg.subscription_path(), with_attributes=True
    )
    parsed = messages | "Validate" >> beam.ParDo(ParsePubsubMessages(cfg.limits(), MODE)).with_outputs(DEAD, main="ok")
    scored = parsed.ok | "Score" >> ScoreFrames(
        info,
        cfg.limits(),
        MODE,
        max_batch_size=cfg.max_batch_size,
        explain=cfg.explanation if cfg.explain else None,
    )
    dead = [parsed[DEAD], scored["dead_letters"]]

    scored["predictions"] | "WritePredictions" >> WriteToBigQueryRows(cfg.table(cfg.predictions_table))

    prefix = cfg.explanations_output if cfg.explain else None
    alerts = scored["predictions"] | "Alerts" >> ConfirmAndAlert(cfg.confirm, prefix)
    (
        alerts
        | "ToMessage" >> beam.Map(to_pubsub_message)
        | "PublishAlerts" >> beam.io.WriteToPubSub(cfg.alerts_topic_path(), with_attributes=True)
    )
    alerts | "WriteAlerts" >> WriteToBigQueryRows(cfg.table(cfg.alerts_table))

    if cfg.explain:
        explained = scored["to_explain"] | "Explanations" >> ExplainScored(
            cfg.model, cfg.explanations_output, cfg.explanation, MODE
        )
        explained["rows"] | "WriteExplanations" >> WriteToBigQueryRows(cfg.table(cfg.explanations_table))
        dead.append(explained["dead_letters"])

    (
        tuple(dead)
        | "AllDeadLetters" >> beam.Flatten()
        | "WriteDeadLetters" >> WriteToBigQueryRows(cfg.table(cfg.dead_letters_table))
    )
