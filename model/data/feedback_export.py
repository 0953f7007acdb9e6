"""`firewatch data from-feedback`: operators' verdicts become training data in the ingest's layout.

The latest verdict per alert or frame (`firewatch.core.feedback.latest_verdicts`) gives its frames a
label: a false alarm's frames go to `ROOT/no_fire` (hard negatives), a confirmed alert's fire
frames and missed fires to `ROOT/fire`. Each image is copied from its gs:// URI (allow-listed
buckets only, the pipeline's own rule) and checked to be an image; `ROOT/feedback_manifest.jsonl`
ties each file to its alert, verdict, category, operator and model version. Frames that cannot be
exported (sent inline, object gone, not an image) are listed with the reason, never dropped
silently. `firewatch data ingest --input ROOT` takes the folder as is.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from firewatch.cloud.storage import is_remote
from firewatch.config.scoring import DEFAULT_NAMES
from firewatch.core.contract import ContractError, MessageLimits, check_uri
from firewatch.core.feedback import TRAINING_LABEL, latest_verdicts, training_file_name
from firewatch.core.imaging import ImageError, inspect_image
from firewatch.errors import UserError

MANIFEST_NAME = "feedback_manifest.jsonl"
EXTENSIONS = {"PNG": "png", "JPEG": "jpg"}


class FeedbackExportConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    output: str = Field(..., description="local folder to write ROOT/fire, ROOT/no_fire and the manifest")
    project: str | None = Field(None, description="Google Cloud project (default: from the environment)")
    dataset: str = Field(DEFAULT_NAMES.dataset, description="BigQuery dataset")
    feedback_table: str = Field(DEFAULT_NAMES.feedback_table, description="feedback table")
    allowed_buckets: tuple[str, ...] = Field((DEFAULT_NAMES.frames_bucket,), description="buckets frames may come from")
    since_days: float = Field(3650.0, gt=0, description="only verdicts given in the last N days")
    max_object_bytes: int = Field(20 * 1024 * 1024, gt=0, description="largest frame object copied")


@dataclass
class ExportReport:
    written: Counter = field(default_factory=Counter)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{label}={n}" for label, n in sorted(self.written.items())] or ["nothing written"]
        return f"exported {sum(self.written.values())} frames ({', '.join(parts)}); skipped {len(self.skipped)}"


def plan_frames(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """frame_key -> {label, uri, verdict row}: each subject's latest verdict labels its frames; a frame
    judged under several subjects takes the most recent verdict."""
    plan: dict[str, dict[str, Any]] = {}
    latest = sorted(latest_verdicts(rows).values(), key=lambda r: str(r["judged_at"]))
    for row in latest:
        uris = list(row.get("frame_uris") or [])
        for i, key in enumerate(row["frame_keys"]):
            plan[key] = {"label": TRAINING_LABEL[row["verdict"]], "uri": uris[i] if i < len(uris) else "", "row": row}
    return plan


def export_feedback(config: FeedbackExportConfig, rows: list[dict[str, Any]] | None = None) -> ExportReport:
    from firewatch.cloud.clients import project_id, storage_client

    if is_remote(config.output):
        raise UserError(f"--output {config.output} is remote: export to a local folder, then upload it")
    root = Path(config.output)
    if root.exists() and any(root.iterdir()):
        raise UserError(f"--output {root} is not empty: give a new folder (exports are never merged)")
    project = project_id(config.project)
    if rows is None:
        rows = read_feedback(config, project)
    limits = MessageLimits(allowed_buckets=config.allowed_buckets)
    gcs = storage_client(project)
    report = ExportReport()
    for label in TRAINING_LABEL.values():
        (root / label).mkdir(parents=True, exist_ok=True)
    with open(root / MANIFEST_NAME, "w") as manifest:
        for key, item in sorted(plan_frames(rows).items()):
            row, uri = item["row"], item["uri"]
            try:
                data = _read_frame(gcs, uri, limits, config.max_object_bytes)
                fmt, _, _ = inspect_image(data)
                if fmt not in EXTENSIONS:
                    raise ImageError(f"{fmt} frames are not accepted by the ingest (PNG or JPEG only)")
            except (ContractError, ImageError, FileNotFoundError, ValueError) as exc:
                report.skipped.append({"frame_key": key, "uri": uri, "reason": str(exc)})
                continue
            relative = f"{item['label']}/{training_file_name(key, EXTENSIONS[fmt])}"
            (root / relative).write_bytes(data)
            report.written[item["label"]] += 1
            entry = {
                "path": relative, "label": item["label"], "frame_key": key, "source_uri": uri,
                "alert_id": row.get("alert_id"), "verdict": row["verdict"], "category": row.get("category"),
                "operator": row["operator"], "judged_at": str(row["judged_at"]), "model_version": row["model_version"],
                "feedback_id": row["feedback_id"],
            }  # fmt: skip
            manifest.write(json.dumps(entry, sort_keys=True) + "\n")
    if report.skipped:
        with open(root / "feedback_skipped.json", "w") as f:
            json.dump(report.skipped, f, indent=1)
    return report


def read_feedback(config: FeedbackExportConfig, project: str) -> list[dict[str, Any]]:
    """The feedback rows of the last `since_days` days (every verdict; `latest_verdicts` picks the latest)."""
    from firewatch.clients.query import QueryParam, QuerySpec, run_query

    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=config.since_days)
    table = f"`{project}.{config.dataset}.{config.feedback_table}`"
    spec = QuerySpec(f"SELECT * FROM {table} WHERE judged_at >= @since", [QueryParam("since", "TIMESTAMP", since)])
    return run_query(spec, project=project)


def _read_frame(gcs: Any, uri: str, limits: MessageLimits, max_bytes: int) -> bytes:
    if not uri:
        raise FileNotFoundError("the frame was sent inline (no stored image to export)")
    check_uri(uri, limits)
    bucket, _, name = uri[len("gs://") :].partition("/")
    blob = gcs.bucket(bucket).get_blob(name)
    if blob is None:
        raise FileNotFoundError(f"{uri} does not exist (any more)")
    if blob.size is not None and blob.size > max_bytes:
        raise ValueError(f"{uri} is {blob.size} bytes, above --max-object-bytes {max_bytes}")
    return blob.download_as_bytes()


def main_from_args(values: dict[str, Any]) -> int:
    """The CLI's entry: validate, export, print the summary and where the skipped list is."""
    from firewatch.config.options import config_from_mapping

    config = config_from_mapping(FeedbackExportConfig, values)
    report = export_feedback(config)
    print(report.summary() + f" -> {os.path.abspath(config.output)}")
    if report.skipped:
        print(f"skipped frames and why: {os.path.join(config.output, 'feedback_skipped.json')}")
    return 0
