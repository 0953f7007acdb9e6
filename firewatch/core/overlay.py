"""Heat-map overlay PNG for one explained frame: original | original + attribution heat map.

`render_overlay(original, attributions, regions)` returns PNG bytes of a side-by-side picture:
the frame as received on the left, and on the right the same frame in dimmed grey, with the positive
attributions as a semi-transparent "hot" heat map (dark red, orange, yellow) and the top regions
drawn as numbered boxes with their share of attribution. Frames narrower than 256 px are
enlarged and wider than 640 px reduced, so the picture is readable and small. Attributions
computed at model resolution are stretched to the frame, as the model input was.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

MIN_PANEL_WIDTH = 256
MAX_PANEL_WIDTH = 640
GAP = 8
CAPTION_HEIGHT = 18
BOX_COLOURS = ((0, 255, 255), (0, 200, 255), (120, 160, 255), (200, 120, 255), (255, 255, 255))
# "hot" colour map anchors: position in [0, 1] -> RGB.
_HOT_POS = np.array([0.0, 0.35, 0.7, 1.0])
_HOT_RGB = np.array([[90, 0, 0], [230, 30, 0], [255, 150, 0], [255, 235, 40]], dtype=np.float64)


def render_overlay(
    original: np.ndarray,
    attributions: np.ndarray,
    regions: Sequence[Sequence[float]] = (),
    title: str | None = None,
) -> bytes:
    """PNG bytes: original | heat map over the original, region boxes numbered by rank."""
    original = _as_rgb_uint8(original)
    attributions = np.asarray(attributions, dtype=np.float64)
    if attributions.ndim == 3:
        attributions = attributions.sum(axis=-1)
    if attributions.ndim != 2:
        raise ValueError(f"attributions must be [H, W] (or [H, W, C]), got shape {attributions.shape}")

    frame = _panel(Image.fromarray(original))
    width, height = frame.size
    heat = heat_intensity(attributions, (width, height))
    colours = _hot(heat)
    alpha = (0.8 * np.sqrt(heat))[..., None]
    # Grey, dimmed frame underneath: colour on the right panel is attribution, never flame.
    grey = np.asarray(frame.convert("L"), dtype=np.float64)[..., None]
    base = np.repeat(grey, 3, axis=-1) * 0.6
    blended = (base * (1.0 - alpha) + colours * alpha).clip(0, 255).astype(np.uint8)
    overlay = Image.fromarray(blended)
    _draw_regions(overlay, regions)

    canvas = Image.new("RGB", (2 * width + GAP, height + CAPTION_HEIGHT), (255, 255, 255))
    canvas.paste(frame, (0, CAPTION_HEIGHT))
    canvas.paste(overlay, (width + GAP, CAPTION_HEIGHT))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    draw.text((4, 3), "original", fill=(0, 0, 0), font=font)
    draw.text((width + GAP + 4, 3), title or "attribution (IG) + top regions", fill=(0, 0, 0), font=font)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def render_frame(original: np.ndarray) -> bytes:
    """PNG bytes of the frame alone, at the overlay's panel size (a result with nothing to explain)."""
    buf = io.BytesIO()
    _panel(Image.fromarray(_as_rgb_uint8(original))).save(buf, format="PNG")
    return buf.getvalue()


def heat_intensity(attributions: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Positive attributions smoothed, resized to `size` (w, h) and scaled to [0, 1]."""
    positive = np.clip(attributions, 0.0, None).astype(np.float32)
    top = float(np.percentile(positive, 99.5)) if positive.size else 0.0
    if top <= 0.0:
        return np.zeros((size[1], size[0]), dtype=np.float64)
    sigma = max(1.0, attributions.shape[1] / 96.0)
    smooth = ndimage.gaussian_filter(np.clip(positive / top, 0.0, 1.0), sigma)
    image = Image.fromarray(smooth.astype(np.float32), mode="F").resize(size, Image.Resampling.BILINEAR)
    heat = np.clip(np.asarray(image, dtype=np.float64), 0.0, None)
    peak = float(np.percentile(heat, 99.5))
    return np.clip(heat / peak, 0.0, 1.0) if peak > 0 else heat


def _hot(values: np.ndarray) -> np.ndarray:
    return np.stack([np.interp(values, _HOT_POS, _HOT_RGB[:, c]) for c in range(3)], axis=-1)


def _panel(image: Image.Image) -> Image.Image:
    width, height = image.size
    target = min(max(width, MIN_PANEL_WIDTH), MAX_PANEL_WIDTH)
    if target == width:
        return image
    new_height = max(1, round(height * target / width))
    return image.resize((target, new_height), Image.Resampling.LANCZOS)


def _draw_regions(image: Image.Image, regions: Sequence[Sequence[float]]) -> None:
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    width, height = image.size
    line = max(2, width // 160)
    for rank, region in reversed(list(enumerate(regions, start=1))):  # rank 1 drawn last, on top
        x_min, y_min, x_max, y_max, share = (float(v) for v in region[:5])
        box = (x_min * width, y_min * height, x_max * width - 1, y_max * height - 1)
        colour = BOX_COLOURS[min(rank - 1, len(BOX_COLOURS) - 1)]
        draw.rectangle(box, outline=colour, width=line)
        label = f"{rank}: {share:.0%}"
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        text_w, text_h = right - left + 4, bottom - top + 4
        text_x = min(max(box[0] + line, 0), width - text_w)
        text_y = box[1] + line if box[1] + line + text_h < height else max(box[3] - text_h - line, 0)
        draw.rectangle((text_x, text_y, text_x + text_w, text_y + text_h), fill=(0, 0, 0))
        draw.text((text_x + 2 - left, text_y + 2 - top), label, fill=colour, font=font)


def _as_rgb_uint8(original: np.ndarray) -> np.ndarray:
    array = np.asarray(original)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"original must be an RGB image [H, W, 3], got shape {array.shape}")
    if array.dtype != np.uint8:
        raise ValueError(f"original must be uint8 pixels, got {array.dtype}")
    return np.ascontiguousarray(array[..., :3])


def overlay_uri(prefix: str, model_version: str, frame_key: str) -> str:
    """Where the explanation overlay of a frame is written (one definition for both sides).

    Readable (the key with unsafe characters replaced) and unique (a hash of the exact key).
    """
    stem = re.sub(r"\.(png|jpe?g|gif|bmp|webp|tiff?)$", "", frame_key, flags=re.IGNORECASE)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", stem)[-150:]
    digest = hashlib.sha256(frame_key.encode("utf-8")).hexdigest()[:8]
    return f"{prefix.rstrip('/')}/{model_version}/{safe}-{digest}.png"
