"""The console's reads and writes: BigQuery tables and GCS objects, through `firewatch.cloud.clients`.

Queries are plain parameterized SQL (no engine-specific features, so they run on the emulator
and on BigQuery alike); shaping happens in `views`. Verdicts are appended with the row writer,
once per idempotency key: a key already written (by this process or, checked in the table, by
another) is not written again.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from firewatch.clients.query import QueryParam, QuerySpec, run_query
from firewatch.console.config import ConsoleConfig
from firewatch.console.images import ObjectRef
from firewatch.core.feedback import VerdictInput, feedback_row
from firewatch.core.masks import CameraMask, Rectangle, latest_rows, mask_row, next_version

FRAME_COLUMNS = (
    "frame_key, camera_id, frame_id, captured_at, processed_at, fire_probability, label, threshold, "
    "model_version, source_uri, image_width, image_height, mask_version, fire_boxes"
)  # fire_boxes: REPEATED RECORD, empty (or NULL) for rows without regions; views.frame_boxes reads it


class ConsoleStore:
    def __init__(self, config: ConsoleConfig, project: str) -> None:
        self.config = config
        self.project = project
        self._bq: Any = None
        self._gcs: Any = None
        self._lock = threading.Lock()
        self._written: set[str] = set()

    # -- clients --------------------------------------------------------------------------------------

    @property
    def bq(self) -> Any:
        if self._bq is None:
            from firewatch.cloud.clients import bigquery_client

            self._bq = bigquery_client(self.project)
        return self._bq

    def _table(self, name: str) -> str:
        return f"`{self.config.table(self.project, name)}`"

    def _query(self, sql: str, *params: QueryParam) -> list[dict[str, Any]]:
        return run_query(QuerySpec(sql, list(params)), client=self.bq)

    # -- reads -------------------------------------------------------------------------------------------

    def alert_events_since(self, since: dt.datetime, limit: int = 1000) -> list[dict[str, Any]]:
        return self._query(
            f"SELECT * FROM {self._table(self.config.alerts_table)} WHERE event_time >= @since "
            "ORDER BY event_time DESC LIMIT @limit",
            QueryParam("since", "TIMESTAMP", since),
            QueryParam("limit", "INT64", limit),
        )

    def alert_events(self, alert_id: str) -> list[dict[str, Any]]:
        return self._query(
            f"SELECT * FROM {self._table(self.config.alerts_table)} WHERE alert_id = @id ORDER BY event_time",
            QueryParam("id", "STRING", alert_id),
        )

    def frames_between(self, camera_id: str, start: dt.datetime, end: dt.datetime, limit: int = 500) -> list[dict]:
        return self._query(
            f"SELECT {FRAME_COLUMNS} FROM {self._table(self.config.predictions_table)} "
            "WHERE camera_id = @cam AND captured_at >= @start AND captured_at <= @end "
            "ORDER BY captured_at, frame_key LIMIT @limit",
            QueryParam("cam", "STRING", camera_id),
            QueryParam("start", "TIMESTAMP", start),
            QueryParam("end", "TIMESTAMP", end),
            QueryParam("limit", "INT64", limit),
        )

    def recent_frames(self, camera_id: str, since: dt.datetime, limit: int = 60) -> list[dict[str, Any]]:
        return self._query(
            f"SELECT {FRAME_COLUMNS} FROM {self._table(self.config.predictions_table)} "
            "WHERE camera_id = @cam AND processed_at >= @since ORDER BY captured_at DESC LIMIT @limit",
            QueryParam("cam", "STRING", camera_id),
            QueryParam("since", "TIMESTAMP", since),
            QueryParam("limit", "INT64", limit),
        )

    def frame(self, frame_key: str) -> dict[str, Any] | None:
        rows = self._query(
            f"SELECT {FRAME_COLUMNS} FROM {self._table(self.config.predictions_table)} "
            "WHERE frame_key = @key ORDER BY processed_at DESC LIMIT 1",
            QueryParam("key", "STRING", frame_key),
        )
        return rows[0] if rows else None

    def last_frames(self, since: dt.datetime) -> list[dict[str, Any]]:
        """The latest frame of each camera seen since `since`."""
        table = self._table(self.config.predictions_table)
        return self._query(
            f"SELECT p.camera_id, p.captured_at, p.processed_at, p.fire_probability, p.label, p.model_version "
            f"FROM {table} p JOIN (SELECT camera_id, MAX(captured_at) AS last_at FROM {table} "
            "WHERE processed_at >= @since GROUP BY camera_id) m "
            "ON p.camera_id = m.camera_id AND p.captured_at = m.last_at WHERE p.processed_at >= @since",
            QueryParam("since", "TIMESTAMP", since),
        )

    def camera_health(self) -> list[dict[str, Any]]:
        """Each camera's latest camera-health event (its current state), whenever it came; none when
        the job has not created the table yet (a deployment older than camera health)."""
        from google.api_core.exceptions import NotFound

        table = self._table(self.config.camera_health_table)
        try:
            return self._query(
                f"SELECT h.camera_id, h.state, h.previous_state, h.event_time, h.frame_time, h.condition_since, "
                f"h.reason FROM {table} h JOIN (SELECT camera_id, MAX(event_time) AS last_at FROM {table} "
                "GROUP BY camera_id) m ON h.camera_id = m.camera_id AND h.event_time = m.last_at"
            )
        except NotFound:
            return []

    def monitoring_rows(self, since: dt.datetime, limit: int = 20000) -> list[dict[str, Any]]:
        return self._query(
            f"SELECT camera_id, model_version, processed_at, fire_probability, label, latency_ms "
            f"FROM {self._table(self.config.predictions_table)} WHERE processed_at >= @since "
            "ORDER BY processed_at DESC LIMIT @limit",
            QueryParam("since", "TIMESTAMP", since),
            QueryParam("limit", "INT64", limit),
        )

    def dead_letters_since(self, since: dt.datetime, limit: int = 20000) -> list[dict[str, Any]]:
        return self._query(
            f"SELECT stage, received_at FROM {self._table(self.config.dead_letters_table)} "
            "WHERE received_at >= @since LIMIT @limit",
            QueryParam("since", "TIMESTAMP", since),
            QueryParam("limit", "INT64", limit),
        )

    def explanation(self, frame_key: str) -> dict[str, Any] | None:
        rows = self._query(
            f"SELECT frame_key, method, overlay_uri, fire_probability, approximation_error, model_version, "
            f"created_at FROM {self._table(self.config.explanations_table)} WHERE frame_key = @key "
            "ORDER BY created_at DESC LIMIT 1",
            QueryParam("key", "STRING", frame_key),
        )
        return rows[0] if rows else None

    def explanation_by_overlay(self, overlay_uri: str) -> dict[str, Any] | None:
        """The explanation whose overlay is at this URI (which frame an alert's evidence belongs to)."""
        rows = self._query(
            f"SELECT frame_key, method, overlay_uri, fire_probability, approximation_error, model_version, "
            f"created_at FROM {self._table(self.config.explanations_table)} WHERE overlay_uri = @uri "
            "ORDER BY created_at DESC LIMIT 1",
            QueryParam("uri", "STRING", overlay_uri),
        )
        return rows[0] if rows else None

    def feedback(self, subject_id: str) -> list[dict[str, Any]]:
        return self._query(
            f"SELECT * FROM {self._table(self.config.feedback_table)} WHERE subject_id = @s ORDER BY judged_at",
            QueryParam("s", "STRING", subject_id),
        )

    def feedback_since(self, since: dt.datetime) -> list[dict[str, Any]]:
        return self._query(
            f"SELECT * FROM {self._table(self.config.feedback_table)} WHERE judged_at >= @since",
            QueryParam("since", "TIMESTAMP", since),
        )

    def masks(self, camera_id: str) -> list[dict[str, Any]]:
        """Every saved version of the camera's mask, oldest first."""
        return self._query(
            f"SELECT mask_id, camera_id, mask_version, rectangles, operator, created_at, note "
            f"FROM {self._table(self.config.masks_table)} WHERE camera_id = @cam ORDER BY mask_version, created_at",
            QueryParam("cam", "STRING", camera_id),
        )

    def current_mask(self, camera_id: str) -> dict[str, Any] | None:
        return latest_rows(self.masks(camera_id)).get(camera_id)

    def _mask_exists(self, mask_id: str) -> bool:
        rows = self._query(
            f"SELECT COUNT(*) AS n FROM {self._table(self.config.masks_table)} WHERE mask_id = @id",
            QueryParam("id", "STRING", mask_id),
        )
        return bool(rows and rows[0]["n"])

    def _feedback_exists(self, feedback_id: str) -> bool:
        rows = self._query(
            f"SELECT COUNT(*) AS n FROM {self._table(self.config.feedback_table)} WHERE feedback_id = @id",
            QueryParam("id", "STRING", feedback_id),
        )
        return bool(rows and rows[0]["n"])

    # -- writes ------------------------------------------------------------------------------------------

    def record_verdict(self, verdict: VerdictInput, operator: str, now: dt.datetime) -> bool:
        """Append the verdict unless its idempotency key was written already; True when written."""
        from firewatch.cloud.bigquery_rows import insert_rows

        with self._lock:  # one writer per key in this process; the table check covers other replicas
            if verdict.feedback_id in self._written or self._feedback_exists(verdict.feedback_id):
                self._written.add(verdict.feedback_id)
                return False
            insert_rows(
                self.config.table(self.project, self.config.feedback_table),
                [feedback_row(verdict, operator, now)],
                client=self.bq,
            )
            self._written.add(verdict.feedback_id)
            return True

    def record_mask(
        self,
        camera_id: str,
        rectangles: tuple[Rectangle, ...],
        *,
        mask_id: str,
        operator: str,
        now: dt.datetime,
        note: str | None = None,
    ) -> int | None:
        """Append the camera's next mask version unless this form (`mask_id`) was saved already;
        the version written, or None for a repeated form."""
        from firewatch.cloud.bigquery_rows import insert_rows

        with self._lock:  # versions are numbered under this lock (one console instance, see the runbook);
            # the table check also catches a form repeated to another replica
            if mask_id in self._written or self._mask_exists(mask_id):
                self._written.add(mask_id)
                return None
            mask = CameraMask(camera_id=camera_id, version=next_version(self.masks(camera_id)), rectangles=rectangles)
            row = mask_row(mask, mask_id=mask_id, operator=operator, created_at=now, note=note)
            insert_rows(self.config.table(self.project, self.config.masks_table), [row], client=self.bq)
            self._written.add(mask_id)
            return mask.version

    # -- objects -----------------------------------------------------------------------------------------

    def read_object(self, ref: ObjectRef, max_bytes: int) -> bytes:
        if self._gcs is None:
            from firewatch.cloud.clients import storage_client

            self._gcs = storage_client(self.project)
        blob = self._gcs.bucket(ref.bucket).get_blob(ref.name)
        if blob is None:
            raise FileNotFoundError(f"gs://{ref.bucket}/{ref.name} does not exist")
        if blob.size is not None and blob.size > max_bytes:
            raise ValueError(f"object is {blob.size} bytes, above the {max_bytes}-byte limit")
        return blob.download_as_bytes()
