"""Pure shaping for the console's exclusion-mask page (no I/O).

- `mask_frame`: the camera's latest frame to draw on: a servable image (a gs:// object in an
  allow-listed bucket) when one of its recent frames has one, else only the frame's size, so the
  page shows an empty canvas with the camera's aspect ratio;
- `rectangles_json`: a masks-table row's rectangles as the form's JSON (`[[x_min, y_min, x_max, y_max]]`).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from firewatch.console.images import ImageRefused, parse_object_uri

CANVAS_WIDTH = 640
DEFAULT_ASPECT = 3 / 4  # height / width when no frame says otherwise


def mask_frame(frames: Iterable[Mapping[str, Any]], allowed_buckets: Collection[str]) -> dict[str, Any]:
    """{"uri": servable gs:// URI or None, "frame_key", "width", "height", "sized"} for the canvas."""
    frames = list(frames)
    chosen: Mapping[str, Any] | None = None
    for frame in frames:
        uri = frame.get("source_uri")
        if not uri:
            continue
        try:
            parse_object_uri(uri, allowed_buckets)
        except ImageRefused:
            continue
        chosen = frame
        break
    sized = chosen or next((f for f in frames if f.get("image_width") and f.get("image_height")), None)
    height = round(CANVAS_WIDTH * DEFAULT_ASPECT)
    known = bool(sized and sized.get("image_width") and sized.get("image_height"))
    if known:
        height = max(1, round(CANVAS_WIDTH * int(sized["image_height"]) / int(sized["image_width"])))
    return {
        "uri": chosen.get("source_uri") if chosen else None,
        "frame_key": (chosen or sized or {}).get("frame_key"),
        "width": CANVAS_WIDTH,
        "height": min(height, 4 * CANVAS_WIDTH),
        "sized": known,  # False: the page takes the aspect ratio from the image once loaded
    }


def rectangles_json(row: Mapping[str, Any] | None) -> str:
    if not row:
        return "[]"
    boxes = [
        [
            round(float(r["x_min"]), 4),
            round(float(r["y_min"]), 4),
            round(float(r["x_max"]), 4),
            round(float(r["y_max"]), 4),
        ]
        for r in row.get("rectangles") or []
    ]
    return json.dumps(boxes)
