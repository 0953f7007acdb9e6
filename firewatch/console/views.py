"""Pure shaping of table rows into what the console's pages show (no I/O).

- `latest_alert_states`: alert events -> one row per alert (its latest event), newest first;
- `camera_board`: last frame per camera + open alerts + health -> board rows with a `stale` flag;
- `probability_svg`: an inline SVG plot of an alert's frame probabilities in capture order;
- `frame_boxes` / `boxes_svg` / `alert_frame_overlays`: where the model saw fire in a frame (the
  predictions row's `fire_boxes`, and the alert's `peak_box` on its peak frame) as an SVG laid over
  the frame's image. Boxes are fractions of the frame, so the SVG's 0-100 view box is stretched
  over the image (`preserveAspectRatio="none"`); attributes only, no inline styles (the console's
  CSP allows none). Rows without boxes (NULL or empty `fire_boxes`, a null `peak_box`) draw nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

BOX_FIELDS = ("x_min", "y_min", "x_max", "y_max")
BOX_COLOURS = {"fire": "#00e5ff", "peak": "#e000ff"}  # a fire box; the alert's peak box (they stand out on flames)


def as_utc(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def latest_alert_states(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One dict per alert_id: its latest event (by event_time), newest alerts first."""
    latest: dict[str, dict[str, Any]] = {}
    for event in events:
        current = latest.get(event["alert_id"])
        if current is None or as_utc(event["event_time"]) >= as_utc(current["event_time"]):
            latest[event["alert_id"]] = dict(event)
    return sorted(latest.values(), key=lambda e: as_utc(e["event_time"]), reverse=True)


def camera_board(
    last_frames: Iterable[Mapping[str, Any]],
    alert_states: Iterable[Mapping[str, Any]],
    now: dt.datetime,
    stale_after_s: float,
    health: Iterable[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """Board rows sorted by camera: last frame time and probability, open alert, stale flag, and the
    camera's health (its latest camera-health event: `health`, `health_since`, `health_reason`;
    "healthy" for a camera that never had one)."""
    board: dict[str, dict[str, Any]] = {}
    for frame in last_frames:
        camera = frame["camera_id"]
        at = as_utc(frame.get("captured_at")) or as_utc(frame.get("processed_at"))
        if camera in board and board[camera]["last_frame_at"] and at and at <= board[camera]["last_frame_at"]:
            continue
        board[camera] = {
            "camera_id": camera,
            "last_frame_at": at,
            "last_probability": frame.get("fire_probability"),
            "last_label": frame.get("label"),
            "model_version": frame.get("model_version"),
            "open_alert": None,
        }
    for state in alert_states:
        if state.get("event") == "close":
            continue
        row = board.setdefault(
            state["camera_id"],
            {
                "camera_id": state["camera_id"],
                "last_frame_at": None,
                "last_probability": None,
                "last_label": None,
                "model_version": state.get("model_version"),
                "open_alert": None,
            },
        )
        if row["open_alert"] is None:
            row["open_alert"] = state["alert_id"]
    latest: dict[str, Mapping[str, Any]] = {}
    for event in health:  # the latest per camera (event time, then frame time, for equal event times)
        key = (
            as_utc(event.get("event_time")),
            as_utc(event.get("frame_time")) or dt.datetime.min.replace(tzinfo=dt.UTC),
        )
        held = latest.get(event["camera_id"])
        if held is None or key > held["_key"]:
            latest[event["camera_id"]] = {**event, "_key": key}
    for camera, event in latest.items():
        row = board.setdefault(
            camera,
            {
                "camera_id": camera,
                "last_frame_at": None,
                "last_probability": None,
                "last_label": None,
                "model_version": None,
                "open_alert": None,
            },
        )
        row["health"] = event.get("state")
        row["health_since"] = as_utc(event.get("condition_since")) or as_utc(event.get("event_time"))
        row["health_reason"] = event.get("reason")
    for row in board.values():
        row.setdefault("health", "healthy")
        row.setdefault("health_since", None)
        row.setdefault("health_reason", None)
        last = row["last_frame_at"]
        row["stale"] = last is None or (now - last).total_seconds() > stale_after_s
        row["age_s"] = None if last is None else max(0.0, (now - last).total_seconds())
    return [board[c] for c in sorted(board)]


def probability_svg(
    frames: Sequence[Mapping[str, Any]], threshold: float | None, width: int = 640, height: int = 180
) -> str:
    """An SVG line + points of fire_probability per frame (capture order), the threshold dashed."""
    pad_l, pad_r, pad_t, pad_b = 36, 10, 10, 24
    inner_w, inner_h = width - pad_l - pad_r, height - pad_t - pad_b
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="fire probability per frame" class="plot">',
        f'<rect x="{pad_l}" y="{pad_t}" width="{inner_w}" height="{inner_h}" fill="#fafafa" stroke="#ccc"/>',
    ]
    for tick in (0.0, 0.5, 1.0):
        y = pad_t + inner_h * (1 - tick)
        parts.append(f'<text x="{pad_l - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{tick:.1f}</text>')
    if threshold is not None:
        y = pad_t + inner_h * (1 - threshold)
        parts.append(
            f'<line x1="{pad_l}" x2="{pad_l + inner_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#888" '
            f'stroke-dasharray="4 3"><title>threshold {threshold:.2f}</title></line>'
        )
    count = len(frames)
    points = []
    for i, frame in enumerate(frames):
        x = pad_l + (inner_w * (i + 0.5) / count if count else 0)
        p = float(frame["fire_probability"])
        y = pad_t + inner_h * (1 - min(max(p, 0.0), 1.0))
        points.append((x, y, p, frame))
    if len(points) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#c0392b" stroke-width="1.5"/>')
    for x, y, p, frame in points:
        colour = "#c0392b" if frame.get("label") == "fire" else "#2c7fb8"
        title = escape(f"{frame.get('frame_key')}: {p:.3f}")
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{title}</title></circle>')
    parts.append(
        f'<text x="{pad_l + inner_w / 2:.0f}" y="{height - 6}" font-size="10" text-anchor="middle">'
        f"{count} frames in capture order</text></svg>"
    )
    return "".join(parts)


def box_of(record: Any) -> tuple[float, float, float, float] | None:
    """A box RECORD ({x_min, y_min, x_max, y_max}, fractions of the frame) as a tuple clipped to the
    frame; None when absent, malformed or empty."""
    if not isinstance(record, Mapping):
        return None
    try:
        x0, y0, x1, y1 = (min(max(float(record[name]), 0.0), 1.0) for name in BOX_FIELDS)
    except (KeyError, TypeError, ValueError):
        return None
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def frame_boxes(frame: Mapping[str, Any], peak_box: Any = None) -> list[dict[str, Any]]:
    """What to draw on a frame: its fire boxes (most probable first; none when the row's
    `fire_boxes` is NULL or empty), then the alert's peak box when this is the alert's peak frame."""
    boxes = []
    for record in frame.get("fire_boxes") or ():
        box = box_of(record)
        if box is not None:
            probability = record.get("probability")
            boxes.append(
                {"kind": "fire", "box": box, "probability": None if probability is None else float(probability)}
            )
    peak = box_of(peak_box)
    if peak is not None:
        boxes.append({"kind": "peak", "box": peak, "probability": None})
    return boxes


def boxes_svg(boxes: Sequence[Mapping[str, Any]]) -> str:
    """An SVG to lay over a frame's image (class `boxes`), one rectangle per box; '' without boxes."""
    if not boxes:
        return ""
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" class="boxes" viewBox="0 0 100 100" '
        'preserveAspectRatio="none" role="img" aria-label="where the model saw fire">'
    ]
    for entry in boxes:
        x0, y0, x1, y1 = entry["box"]
        kind, probability = entry["kind"], entry.get("probability")
        if kind == "peak":
            title, style = "alert peak box", 'stroke-width="3" stroke-dasharray="6 3"'
        else:
            title = "fire box" if probability is None else f"fire box p={probability:.3f}"
            style = 'stroke-width="2"'
        parts.append(
            f'<rect class="{kind}-box" data-box="{x0:.4f},{y0:.4f},{x1:.4f},{y1:.4f}" '
            f'x="{x0 * 100:.3f}" y="{y0 * 100:.3f}" width="{(x1 - x0) * 100:.3f}" height="{(y1 - y0) * 100:.3f}" '
            f'fill="none" stroke="{BOX_COLOURS[kind]}" {style} vector-effect="non-scaling-stroke">'
            f"<title>{escape(title)}</title></rect>"
        )
    parts.append("</svg>")
    return "".join(parts)


def alert_frame_overlays(
    frames: Iterable[Mapping[str, Any]], peak_frame_key: str | None, peak_box: Any
) -> dict[str, str]:
    """frame_key -> the SVG of its boxes (the alert's peak box on the peak frame only)."""
    return {
        frame["frame_key"]: boxes_svg(frame_boxes(frame, peak_box if frame["frame_key"] == peak_frame_key else None))
        for frame in frames
    }
