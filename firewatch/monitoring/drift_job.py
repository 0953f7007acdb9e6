"""`firewatch drift`: each camera's recent frames against a reference, as a scheduled batch job.

`reference`: the model's scores and the image statistics of a labelled image folder (the
evaluation set, ROOT/<label>/*) -> a JSON `DriftReference`.
`run`: for the last `--window-minutes` of predictions, per camera with at least `--min-frames`
frames, the PSI of scores and (from frames stored as gs:// objects, up to `--max-images-per-camera`)
of brightness and colourfulness; one row per camera in `firewatch.monitoring`; a `drift` event on
the alerts topic (attribute `event=drift`, so alert subscribers can filter it) when a camera
*crosses* the threshold (its previous row was not drifting), so a covered lens raises one event,
not one per run.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from firewatch.config.scoring import DEFAULT_NAMES
from firewatch.core.contract import ContractError, MessageLimits, check_uri
from firewatch.core.drift import DriftReference, drifting_metrics, image_stats, proportions, window_psi
from firewatch.core.imaging import ImageError, decode_image
from firewatch.core.names import resource_path
from firewatch.core.regions import score_pixels
from firewatch.core.rows import rfc3339
from firewatch.errors import UserError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class DriftReferenceConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    model: str = Field(..., description="exported model directory (local path or gs://)")
    images: str = Field(..., description="local folder of reference images (e.g. the evaluation set ROOT/<label>/*)")
    output: str = Field(..., description="reference JSON file to write")
    max_images: int = Field(1000, ge=10, description="at most this many images (sorted by path)")


class DriftConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    reference: str = Field(..., description="reference JSON from `firewatch drift reference`")
    project: str | None = Field(None, description="Google Cloud project (default: from the environment)")
    dataset: str = Field(DEFAULT_NAMES.dataset, description="BigQuery dataset")
    predictions_table: str = Field(DEFAULT_NAMES.predictions_table, description="predictions table")
    monitoring_table: str = Field(DEFAULT_NAMES.monitoring_table, description="table the drift rows go to")
    alerts_topic: str = Field(DEFAULT_NAMES.alerts_topic, description="topic for drift events (name or full path)")
    window_minutes: float = Field(60.0, gt=0, description="window of predictions (processed_at) compared")
    psi_threshold: float = Field(0.25, gt=0, description="PSI above which a metric drifts (0.1 small, 0.25 large)")
    min_frames: int = Field(20, ge=2, description="cameras with fewer frames in the window are not judged")
    max_images_per_camera: int = Field(50, ge=0, description="stored frames read for image statistics")
    allowed_buckets: tuple[str, ...] = Field(
        (DEFAULT_NAMES.frames_bucket,), description="buckets frames may be read from"
    )


@dataclass
class DriftReport:
    rows: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    too_few_frames: dict[str, int] = field(default_factory=dict)


def build_reference(config: DriftReferenceConfig) -> DriftReference:
    from firewatch.cloud.models import load_exported

    root = Path(config.images)
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[: config.max_images]
    if len(paths) < 10:
        raise UserError(f"{root} has {len(paths)} images; a reference needs at least 10 (ROOT/<label>/*.png|jpg)")
    model = load_exported(config.model)
    size = model.metadata.image_size
    stats, scores = [], []
    for path in paths:
        try:
            pixels = decode_image(path.read_bytes()).pixels
        except ImageError as exc:
            raise UserError(f"{path}: {exc}") from None
        stats.append(image_stats(pixels))
        # scored as the pipelines score (full-resolution regions), so the reference matches the rows
        scores.append(score_pixels(model.predict_images, pixels, size, model.metadata.threshold).scores.probability)
    reference = DriftReference(
        model_version=model.metadata.model_version,
        frames=len(paths),
        proportions={
            "score": proportions(scores),
            "brightness": proportions([s["brightness"] for s in stats]),
            "colourfulness": proportions([s["colourfulness"] for s in stats]),
        },
    ).check()
    Path(config.output).write_text(reference.model_dump_json(indent=1))
    return reference


def load_reference(path: str) -> DriftReference:
    try:
        return DriftReference.model_validate_json(Path(path).read_text()).check()
    except (OSError, ValueError) as exc:
        raise UserError(f"--reference {path}: {exc}; build one with `firewatch drift reference`") from None


def run_drift(config: DriftConfig, now: dt.datetime | None = None) -> DriftReport:
    from firewatch.clients.query import QueryParam, QuerySpec, run_query
    from firewatch.cloud.bigquery_rows import insert_rows
    from firewatch.cloud.clients import bigquery_client, project_id, publisher_client, storage_client

    reference = load_reference(config.reference)
    project = project_id(config.project)
    now = now or dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(minutes=config.window_minutes)
    bq = bigquery_client(project)
    predictions = f"`{project}.{config.dataset}.{config.predictions_table}`"
    monitoring = f"{project}.{config.dataset}.{config.monitoring_table}"
    rows = run_query(QuerySpec(
        f"SELECT camera_id, fire_probability, source_uri, model_version, processed_at FROM {predictions} "
        "WHERE processed_at >= @start AND processed_at < @end ORDER BY processed_at DESC",
        [QueryParam("start", "TIMESTAMP", start), QueryParam("end", "TIMESTAMP", now)]), client=bq)  # fmt: skip
    by_camera: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_camera[row["camera_id"]].append(row)
    report = DriftReport()
    gcs = storage_client(project)
    limits = MessageLimits(allowed_buckets=config.allowed_buckets)
    topic = resource_path("topics", config.alerts_topic, project)
    publisher = None
    for camera, frames in sorted(by_camera.items()):
        if len(frames) < config.min_frames:
            report.too_few_frames[camera] = len(frames)
            continue
        stats = _image_stats(gcs, frames, limits, config.max_images_per_camera)
        values = {
            "score": [float(f["fire_probability"]) for f in frames],
            "brightness": [s["brightness"] for s in stats],
            "colourfulness": [s["colourfulness"] for s in stats],
        }
        psis = window_psi(reference, values)
        drifting = drifting_metrics(psis, config.psi_threshold)
        previous = run_query(QuerySpec(
            f"SELECT drifting FROM `{monitoring}` WHERE camera_id = @cam ORDER BY computed_at DESC LIMIT 1",
            [QueryParam("cam", "STRING", camera)]), client=bq)  # fmt: skip
        crossed = bool(drifting) and not (previous and previous[0]["drifting"])
        row = {
            "camera_id": camera, "window_start": rfc3339(start), "window_end": rfc3339(now),
            "computed_at": rfc3339(now),
            "frames": len(frames), "frames_with_images": len(stats), "model_version": frames[0]["model_version"],
            "reference_model_version": reference.model_version, "psi_score": psis.get("score"),
            "psi_brightness": psis.get("brightness"), "psi_colourfulness": psis.get("colourfulness"),
            "mean_score": float(np.mean(values["score"])),
            "mean_brightness": float(np.mean(values["brightness"])) if stats else None,
            "mean_colourfulness": float(np.mean(values["colourfulness"])) if stats else None,
            "threshold": config.psi_threshold, "drifting": bool(drifting), "drifting_metrics": drifting,
            "event_published": crossed,
        }  # fmt: skip
        if crossed:
            event = {"event": "drift", "camera_id": camera, "metrics": drifting, "psi": psis,
                     "window_start": row["window_start"], "window_end": row["window_end"],
                     "event_time": rfc3339(now), "reference_model_version": reference.model_version}  # fmt: skip
            publisher = publisher or publisher_client()
            publisher.publish(topic, json.dumps(event).encode(), event="drift", camera_id=camera).result(timeout=60)
            report.events.append(event)
        insert_rows(monitoring, [row], client=bq)
        report.rows.append(row)
    return report


def _image_stats(gcs: Any, frames: list[dict[str, Any]], limits: MessageLimits, limit: int) -> list[dict[str, float]]:
    stats = []
    for frame in frames:
        if len(stats) >= limit:
            break
        uri = frame.get("source_uri") or ""
        try:
            check_uri(uri, limits)
        except ContractError:
            continue  # sent inline or outside the allow-list: scores only
        bucket, _, name = uri[len("gs://") :].partition("/")
        blob = gcs.bucket(bucket).get_blob(name)
        if blob is None:
            continue
        try:
            stats.append(image_stats(decode_image(blob.download_as_bytes()).pixels))
        except ImageError:
            continue
    return stats
