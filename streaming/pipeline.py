"""The streaming pipeline graph.

ReadFromPubSub (with attributes) -> validate -> ScoreFrames (fetch, decode, RunInference,
postprocess) -> predictions table; every failure -> dead_letters table; predictions ->
per-camera confirmation -> alert topic + alerts table; dead letters -> dead_letters table +
dead-letter topic (original payload and attributes, plus the reason, ready to replay); fire frames -> explanations on a
separate branch (explanations table + overlay PNGs), so explaining never holds up rows or
alerts. The same graph runs on the local runner (emulators) and on Dataflow.
"""

from __future__ import annotations

import apache_beam as beam

from firewatch.alerting import ConfirmAndAlert, dead_letter_message, to_pubsub_message
from firewatch.bigquery_io import WriteToBigQueryRows
from firewatch.rows import alert_row_id, dead_letter_row_id, explanation_row_id, prediction_row_id
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

    scored["predictions"] | "WritePredictions" >> WriteToBigQueryRows(
        cfg.table(cfg.predictions_table), row_id=prediction_row_id
    )

    prefix = cfg.overlay_prefix() if cfg.explain else None
    alerts = scored["predictions"] | "Alerts" >> ConfirmAndAlert(cfg.confirm, prefix)
    (
        alerts
        | "ToMessage" >> beam.Map(to_pubsub_message)
        | "PublishAlerts" >> beam.io.WriteToPubSub(cfg.alerts_topic_path(), with_attributes=True)
    )
    alerts | "WriteAlerts" >> WriteToBigQueryRows(cfg.table(cfg.alerts_table), row_id=alert_row_id)

    if cfg.explain:
        explained = scored["to_explain"] | "Explanations" >> ExplainScored(
            cfg.model, cfg.overlay_prefix(), cfg.explanation, MODE
        )
        explained["rows"] | "WriteExplanations" >> WriteToBigQueryRows(
            cfg.table(cfg.explanations_table), row_id=explanation_row_id
        )
        dead.append(explained["dead_letters"])

    dead_letters = tuple(dead) | "AllDeadLetters" >> beam.Flatten()
    dead_letters | "WriteDeadLetters" >> WriteToBigQueryRows(
        cfg.table(cfg.dead_letters_table), row_id=dead_letter_row_id
    )
    if cfg.dead_letter_topic_path():
        (
            dead_letters
            | "DeadLetterMessage" >> beam.Map(dead_letter_message)
            | "PublishDeadLetters" >> beam.io.WriteToPubSub(cfg.dead_letter_topic_path(), with_attributes=True)
        )
