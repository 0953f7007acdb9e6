"""Operator verdicts (the console's feedback): validation, the row, and "latest wins".

Pure logic shared by the console (which writes verdicts) and `firewatch data from-feedback`
(which turns them into training data). A verdict judges a *subject*: an alert (`alert_id`) or
one frame that raised no alert (`frame:<frame_key>`, a missed fire). Rows are append-only:
changing a verdict appends a row, and the latest row per subject wins. `feedback_id` is the
idempotency key of the form that produced it, so a double click writes one row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from firewatch.core.rows import rfc3339

Verdict = Literal["fire_confirmed", "false_alarm", "missed_fire"]
Category = Literal["industrial_smoke", "sun_glare", "lights", "clouds_fog", "other"]
VERDICTS: tuple[str, ...] = ("fire_confirmed", "false_alarm", "missed_fire")
CATEGORIES: dict[str, str] = {
    "industrial_smoke": "industrial or chimney smoke",
    "sun_glare": "sun / glare",
    "lights": "lights",
    "clouds_fog": "clouds / fog",
    "other": "other",
}
# The training label each verdict gives its frames (ingest's folder names).
TRAINING_LABEL: dict[str, str] = {"fire_confirmed": "fire", "false_alarm": "no_fire", "missed_fire": "fire"}
FEEDBACK_ID_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_NOTE = 2000
MAX_FRAMES = 500


def subject_for_frame(frame_key: str) -> str:
    return f"frame:{frame_key}"


class VerdictInput(BaseModel):
    """One verdict as the operator gave it; invalid combinations are refused with a clear reason."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    feedback_id: str = Field(description="idempotency key of the form (16-64 letters, digits, - or _)")
    verdict: Verdict
    category: Category | None = None
    note: str | None = Field(None, max_length=MAX_NOTE)
    alert_id: str | None = Field(None, min_length=1, max_length=300)
    camera_id: str = Field(min_length=1, max_length=200)
    frame_keys: tuple[str, ...] = Field(min_length=1, max_length=MAX_FRAMES)
    frame_uris: tuple[str, ...] = ()
    model_version: str = Field(min_length=1, max_length=200)

    @field_validator("feedback_id")
    @classmethod
    def _key(cls, value: str) -> str:
        if not FEEDBACK_ID_RE.match(value):
            raise ValueError("feedback id must be 16-64 letters, digits, '-' or '_' (reload the page)")
        return value

    @field_validator("note")
    @classmethod
    def _note(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        return value or None

    @model_validator(mode="after")
    def _consistent(self) -> VerdictInput:
        if self.verdict == "false_alarm" and self.category is None:
            raise ValueError(f"a false alarm needs a category: one of {list(CATEGORIES)}")
        if self.verdict != "false_alarm" and self.category is not None:
            raise ValueError(f"only a false alarm has a category (got {self.category!r} for {self.verdict})")
        if self.verdict == "missed_fire" and (self.alert_id is not None or len(self.frame_keys) != 1):
            raise ValueError("a missed fire marks exactly one frame that raised no alert")
        if self.verdict != "missed_fire" and self.alert_id is None:
            raise ValueError(f"{self.verdict} judges an alert: alert id missing")
        if self.frame_uris and len(self.frame_uris) != len(self.frame_keys):
            raise ValueError("frame_uris must match frame_keys one to one")
        return self

    @property
    def subject_id(self) -> str:
        return self.alert_id if self.alert_id is not None else subject_for_frame(self.frame_keys[0])


def feedback_row(verdict: VerdictInput, operator: str, judged_at: dt.datetime) -> dict[str, Any]:
    """The `firewatch.feedback` row (JSON-ready; `_row_id` = the idempotency key for insertId)."""
    if not operator:
        raise ValueError("operator identity is empty")
    if judged_at.tzinfo is None:
        raise ValueError("judged_at must be timezone-aware")
    return {
        "feedback_id": verdict.feedback_id,
        "subject_id": verdict.subject_id,
        "alert_id": verdict.alert_id,
        "camera_id": verdict.camera_id,
        "frame_keys": list(verdict.frame_keys),
        "frame_uris": list(verdict.frame_uris) or ["" for _ in verdict.frame_keys],
        "verdict": verdict.verdict,
        "category": verdict.category,
        "note": verdict.note,
        "operator": operator,
        "judged_at": rfc3339(judged_at),
        "model_version": verdict.model_version,
        "_row_id": verdict.feedback_id,
    }


def _when(row: Mapping[str, Any]) -> dt.datetime:
    value = row["judged_at"]
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def latest_verdicts(rows: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """subject_id -> its latest row (by judged_at, then feedback_id); repeated feedback_ids count once."""
    seen: set[str] = set()
    latest: dict[str, Mapping[str, Any]] = {}
    for row in sorted(rows, key=lambda r: (_when(r), str(r["feedback_id"]))):
        if row["feedback_id"] in seen:
            continue
        seen.add(row["feedback_id"])
        latest[str(row["subject_id"])] = row
    return latest


def history(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Distinct verdicts (one per feedback_id), oldest first."""
    seen: set[str] = set()
    out = []
    for row in sorted(rows, key=lambda r: (_when(r), str(r["feedback_id"]))):
        if row["feedback_id"] not in seen:
            seen.add(row["feedback_id"])
            out.append(row)
    return out


def training_file_name(frame_key: str, extension: str) -> str:
    """A readable, unique file name for a judged frame (the key made safe + a hash of the exact key)."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", frame_key)[-120:].strip("_") or "frame"
    digest = hashlib.sha256(frame_key.encode("utf-8")).hexdigest()[:10]
    return f"{safe}-{digest}.{extension.lstrip('.').lower()}"
