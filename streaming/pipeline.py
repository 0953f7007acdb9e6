"""The streaming pipeline graph.

ReadFromPubSub (with attributes) -> validate -> ScoreFrames (fetch, decode, RunInference,
postprocess) -> predictions; predictions -> per-camera confirmation -> alert events, and
per-camera health (`firewatch.beam.health`) -> camera-health events; the frames chosen for
explanation -> explanations on their own branch; with --model-registry, a share of the frames also
scored by the registry's `shadow` version (`firewatch.beam.shadow`) -> shadow rows, on a branch that
never alerts; every failure -> dead letters.
All of it goes to `WriteResults`: the BigQuery tables, the alert topic and the dead-letter topic
(original payload and attributes plus the reason, ready to replay). The same graph runs on the
local runner (emulators) and on Dataflow.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import StandardOptions

from firewatch.beam.confirmation import ConfirmAndAlert
from firewatch.beam.dead_letters import DEAD
from firewatch.beam.explanation import ExplainScored
from firewatch.beam.health import CameraHealthEvents
from firewatch.beam.scoring import ModelInfo, ScoreFrames
from firewatch.beam.shadow import ShadowScore
from firewatch.beam.sinks import Destinations, WriteResults
from firewatch.beam.sources import ParsePubsubMessages
from streaming.config import StreamingConfig

MODE = "streaming"


def destinations(cfg: StreamingConfig, *, local: bool = True) -> Destinations:
    tables = {
        "predictions": cfg.predictions_table,
        "dead_letters": cfg.dead_letters_table,
        "alerts": cfg.alerts_table,
        "explanations": cfg.explanations_table,
    }
    if cfg.health.enabled:
        tables["camera_health"] = cfg.camera_health_table
    if cfg.shadow_scoring():
        tables["shadow_predictions"] = cfg.shadow_predictions_table
    return Destinations(
        tables={name: cfg.table(table) for name, table in tables.items()},
        alerts_topic=cfg.alerts_topic_path(),
        dead_letter_topic=cfg.dead_letter_topic_path(),
        streaming=True,
        write_batch_rows=cfg.write_batch_rows,
        write_buffer_seconds=cfg.write_buffer(local=local),
    )


def runs_locally(pipeline: beam.Pipeline) -> bool:
    """Whether the graph is built for Beam's local runner (no runner given means the local one)."""
    runner = pipeline.options.view_as(StandardOptions).runner or "DirectRunner"
    return "Direct" in str(runner)


def build(pipeline: beam.Pipeline, cfg: StreamingConfig, info: ModelInfo | None = None) -> None:
    info = info or ModelInfo.read(cfg.model_dir())
    local = runs_locally(pipeline)
    messages = pipeline | "ReadFrames" >> beam.io.ReadFromPubSub(
        subscription=cfg.subscription_path(), with_attributes=True
    )
    parsed = messages | "Validate" >> beam.ParDo(ParsePubsubMessages(cfg.limits(), MODE)).with_outputs(DEAD, main="ok")
    scored = parsed.ok | "Score" >> ScoreFrames(
        info,
        cfg.limits(),
        MODE,
        max_batch_size=cfg.max_batch_size,
        max_batch_wait_seconds=cfg.batch_wait_seconds(local=local),
        explain=cfg.explanation if cfg.explain else None,
        masks=cfg.mask_source(),
        regions=cfg.regions,
        baselines=cfg.baseline_source(),
        baseline_config=cfg.baselines,
        model_registry=cfg.model_registry,
        model_refresh_seconds=cfg.model_refresh_seconds,
        night=cfg.night,
    )
    prefix = cfg.overlay_prefix() if cfg.explain else None
    results = {
        "predictions": scored["predictions"],
        "alerts": scored["predictions"] | "Alerts" >> ConfirmAndAlert(cfg.confirm, prefix),
    }
    if cfg.health.enabled:
        results["camera_health"] = scored["predictions"] | "CameraHealth" >> CameraHealthEvents(
            cfg.health, cfg.confirm.stale_seconds, cfg.confirm.flush_after_seconds
        )
    if cfg.shadow_scoring():
        results["shadow_predictions"] = scored["inferred"] | "Shadow" >> ShadowScore(
            str(cfg.model_registry),
            cfg.shadow_share,
            info.image_size,
            MODE,
            max_batch_size=cfg.max_batch_size,
            max_batch_wait_seconds=cfg.batch_wait_seconds(local=local),
            refresh_seconds=cfg.model_refresh_seconds,
            max_boxes=cfg.regions.max_boxes,
            fusion_break=not local,
        )
    dead = [parsed[DEAD], scored["dead_letters"]]
    if cfg.explain:
        explained = scored["to_explain"] | "Explanations" >> ExplainScored(
            info.model_dir, cfg.overlay_prefix(), cfg.explanation, MODE
        )
        results["explanations"] = explained["rows"]
        dead.append(explained["dead_letters"])
    results["dead_letters"] = tuple(dead) | "AllDeadLetters" >> beam.Flatten()
    results | "Write" >> WriteResults(destinations(cfg, local=local))
