"""Per-camera exclusion masks: validation, the table row, "latest version wins", and blanking.

An operator draws rectangles over a camera's frame (a chimney, a road with headlights, the sun's
path) in the console; they are appended to the `firewatch.masks` table as a new version of that
camera's mask. The pipelines read the table (`firewatch.beam.masks`), take each camera's latest
version (`latest_masks`), blank its rectangles in the full-resolution frame before its regions are
cut and leave out the regions mostly inside them (`firewatch.core.regions.cut_regions`); each
prediction row records the version it was scored with (`mask_version`).

Rectangles are normalised to the frame: `(x_min, y_min, x_max, y_max)` in [0, 1], origin at the
top left, so they map to the frame whatever the camera's resolution. A version without rectangles
clears the camera's mask.

Fill value: blanked pixels are set to 0.0 (black). Black carries no fire evidence (no colour, no
light), it is the "absence of signal" baseline the explanations already use (Integrated Gradients'
black baseline), and it is the same whatever the rest of the frame shows. A fill taken from the
frame (its mean colour) would paint a frame that is mostly fire-coloured into the very region the
operator excluded.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from firewatch.core.contract import CAMERA_ID_PATTERN
from firewatch.core.regions import blank
from firewatch.core.rows import rfc3339

MAX_RECTANGLES = 32
MIN_SIDE = 0.005  # a rectangle narrower than 0.5 % of the frame is a stray click, not a region
MASK_ID_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_NOTE = 2000
FILL_VALUE = 0.0


class Rectangle(BaseModel):
    """One excluded region, normalised to the frame (0..1, origin top left, x right, y down)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    x_min: float = Field(ge=0.0, le=1.0)
    y_min: float = Field(ge=0.0, le=1.0)
    x_max: float = Field(ge=0.0, le=1.0)
    y_max: float = Field(ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> Rectangle:
        if not (self.x_max - self.x_min >= MIN_SIDE and self.y_max - self.y_min >= MIN_SIDE):
            raise ValueError(
                f"rectangle ({self.x_min}, {self.y_min}, {self.x_max}, {self.y_max}) must have x_min < x_max and "
                f"y_min < y_max, each side at least {MIN_SIDE} of the frame"
            )
        return self

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.x_min, self.y_min, self.x_max, self.y_max)


def _rectangle(value: Any) -> Any:
    """A rectangle given as [x_min, y_min, x_max, y_max] (the console's JSON) or as a mapping (a row)."""
    if isinstance(value, list | tuple):
        if len(value) != 4:
            raise ValueError(f"a rectangle is [x_min, y_min, x_max, y_max], got {len(value)} numbers")
        return dict(zip(("x_min", "y_min", "x_max", "y_max"), value, strict=True))
    return value


class CameraMask(BaseModel):
    """One version of a camera's mask; no rectangles means the mask is cleared."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    camera_id: str = Field(min_length=1, max_length=128)
    version: int = Field(ge=1)
    rectangles: tuple[Rectangle, ...] = Field((), max_length=MAX_RECTANGLES)

    @field_validator("camera_id")
    @classmethod
    def _camera(cls, value: str) -> str:
        if not CAMERA_ID_PATTERN.match(value):
            raise ValueError(
                f"camera id {value[:80]!r} is not valid (1-128 of letters, digits, . _ : @ -; a letter or digit first)"
            )
        return value

    @field_validator("rectangles", mode="before")
    @classmethod
    def _rectangles(cls, value: Any) -> Any:
        return tuple(_rectangle(v) for v in (value or ()))

    def boxes(self) -> tuple[tuple[float, float, float, float], ...]:
        return tuple(r.as_tuple() for r in self.rectangles)


def parse_rectangles(text: str) -> tuple[Rectangle, ...]:
    """The console form's JSON (`[[x_min, y_min, x_max, y_max], ...]`) -> validated rectangles, or
    ValueError saying what is wrong."""
    try:
        value = json.loads(text or "[]")
    except json.JSONDecodeError as exc:
        raise ValueError(f"rectangles must be JSON like [[0.1, 0.2, 0.4, 0.5]]: {exc.msg}") from None
    if not isinstance(value, list):
        raise ValueError("rectangles must be a JSON list of [x_min, y_min, x_max, y_max] lists")
    if len(value) > MAX_RECTANGLES:
        raise ValueError(f"at most {MAX_RECTANGLES} rectangles per camera, got {len(value)}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, list | dict) or (
            isinstance(item, list) and not all(isinstance(v, int | float) and not isinstance(v, bool) for v in item)
        ):
            raise ValueError(f"rectangle {i + 1} must be a list of 4 numbers in 0..1")
        if isinstance(item, list) and not all(math.isfinite(v) for v in item):
            raise ValueError(f"rectangle {i + 1} has a number that is not finite")
        try:
            out.append(Rectangle.model_validate(_rectangle(item)))
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise ValueError(f"rectangle {i + 1}: {_first_problem(exc)}") from None
    return tuple(out)


def _first_problem(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}" if where else str(first["msg"])
    return str(exc)


def mask_row(
    mask: CameraMask, *, mask_id: str, operator: str, created_at: dt.datetime, note: str | None = None
) -> dict[str, Any]:
    """The `firewatch.masks` row (infra/schemas/masks.json); `_row_id` = the form's idempotency key."""
    if not MASK_ID_RE.match(mask_id or ""):
        raise ValueError("mask id must be 16-64 letters, digits, '-' or '_' (reload the page)")
    if not operator:
        raise ValueError("operator identity is empty")
    if created_at.tzinfo is None:
        raise ValueError("created_at must be timezone-aware")
    note = (note or "").strip()[:MAX_NOTE] or None
    return {
        "mask_id": mask_id,
        "camera_id": mask.camera_id,
        "mask_version": mask.version,
        "rectangles": [r.model_dump() for r in mask.rectangles],
        "operator": operator,
        "created_at": rfc3339(created_at),
        "note": note,
        "_row_id": mask_id,
    }


def _when(value: Any) -> dt.datetime:
    if value is None:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def latest_rows(rows: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """camera_id -> its latest masks-table row: the highest mask_version, then the latest created_at."""
    latest: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        camera = str(row["camera_id"])
        current = latest.get(camera)
        key = (int(row["mask_version"]), _when(row.get("created_at")))
        if current is None or key > (int(current["mask_version"]), _when(current.get("created_at"))):
            latest[camera] = row
    return latest


def latest_masks(rows: Iterable[Mapping[str, Any]], problems: list[str] | None = None) -> dict[str, CameraMask]:
    """camera_id -> its current mask (latest version wins). A camera whose latest version has no
    rectangles keeps an empty mask: it is scored unblanked, and its rows record that version.

    A row that is not a valid mask (written to the table by hand, say) costs only its own camera,
    never the other cameras' masks: that camera keeps its latest valid version (or none), and the
    reason goes to `problems` when given."""
    rows = list(rows)
    masks: dict[str, CameraMask] = {}
    while rows:
        invalid = []
        for camera, row in latest_rows(rows).items():
            if camera in masks:
                continue
            try:
                masks[camera] = CameraMask(
                    camera_id=camera, version=int(row["mask_version"]), rectangles=row.get("rectangles") or ()
                )
            except (ValueError, TypeError, KeyError) as exc:
                invalid.append(row)
                if problems is not None:
                    problems.append(f"camera {camera!r} mask version {row.get('mask_version')!r}: {exc}")
        if not invalid:
            break
        rows = [row for row in rows if all(row is not bad for bad in invalid)]
    return masks


def next_version(rows: Iterable[Mapping[str, Any]]) -> int:
    """The version a new mask of a camera gets: one more than the highest so far (1 for the first)."""
    return max((int(r["mask_version"]) for r in rows), default=0) + 1


# Blanking is one rule for a frame and for a model input: `firewatch.core.regions.blank`.
apply_mask = blank
