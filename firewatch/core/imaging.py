"""Image decoding and model preprocessing, shared by the pipelines and the exported model.

One definition of "bytes -> model input" keeps the exported model's in-graph decode
(`serving_default`) and the pipelines' decode (which feeds the float signature in
batches) bit-for-bit the same:

* `preprocess(images_uint8, size)` is the TF function both use: bilinear resize with
  antialiasing to `size x size`, scaled to float32 in [0, 1].
* `decode_image(data, limits)` validates the bytes with Pillow first (format, pixel
  count: decompression bombs are refused before any pixel is decoded), then decodes with
  `tf.io.decode_image` (the op the exported graph uses); formats TF cannot decode
  (WebP, TIFF) fall back to Pillow.

Errors are `ImageError` with a message that says what was wrong.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from firewatch.core.contract import MAX_PIXELS, first_line

# Formats TensorFlow's decode_image reads natively (same bytes -> same pixels as in-graph).
TF_FORMATS = {"JPEG", "PNG", "GIF", "BMP"}
ACCEPTED_FORMATS = TF_FORMATS | {"WEBP", "TIFF"}
DEFAULT_MAX_PIXELS = MAX_PIXELS


class ImageError(ValueError):
    """The bytes are not an acceptable image; the message says why."""


@dataclass(frozen=True)
class DecodeLimits:
    max_pixels: int = DEFAULT_MAX_PIXELS
    min_side: int = 8


@dataclass(frozen=True)
class DecodedImage:
    pixels: np.ndarray  # uint8, H x W x 3
    format: str
    width: int
    height: int


_TF_NOISE = re.compile(r"\{\{[^}]*\}\}\s*|\s*\[Op:[^\]]*\].*$|\b[a-z_]+::[A-Za-z]+ failed\.\s*")


def plain_reason(exc: BaseException) -> str:
    """The first line of a decoder's error without TensorFlow's internals (`{{function_node ...}}`,
    `[Op:DecodeImage]`, `jpeg::Uncompress failed.`): what a user can act on."""
    return _TF_NOISE.sub("", first_line(exc)).strip() or type(exc).__name__


def inspect_image(data: bytes | Path, limits: DecodeLimits = DecodeLimits()) -> tuple[str, int, int]:
    """Return (format, width, height) from the header only, enforcing the limits. `data` is the
    encoded bytes, or a file's path (Pillow then reads only as much of the file as the header needs)."""
    if (isinstance(data, Path) and data.stat().st_size == 0) or not data:
        raise ImageError("empty image data")
    try:
        with Image.open(data if isinstance(data, Path) else io.BytesIO(data)) as img:
            fmt, (width, height) = (img.format or "UNKNOWN"), img.size
    except UnidentifiedImageError:
        raise ImageError("not a recognised image format") from None
    except Image.DecompressionBombError:  # Pillow's own, larger, limit: say ours
        raise ImageError(f"image has more pixels than the limit of {limits.max_pixels}") from None
    except Exception as exc:  # noqa: BLE001 - any parser failure is a bad image
        raise ImageError(f"unreadable image header: {exc}") from None
    if fmt not in ACCEPTED_FORMATS:
        raise ImageError(f"unsupported image format {fmt}; accepted: {sorted(ACCEPTED_FORMATS)}")
    if width * height > limits.max_pixels:
        raise ImageError(f"image has {width}x{height}={width * height} pixels, above the limit of {limits.max_pixels}")
    if min(width, height) < limits.min_side:
        raise ImageError(f"image is {width}x{height}, smaller than {limits.min_side} pixels on a side")
    return fmt, width, height


def decode_image(data: bytes, limits: DecodeLimits = DecodeLimits()) -> DecodedImage:
    """Decode encoded image bytes to RGB uint8 pixels, or raise ImageError."""
    fmt, width, height = inspect_image(data, limits)
    try:
        if fmt in TF_FORMATS:
            import tensorflow as tf

            pixels = tf.io.decode_image(data, channels=3, expand_animations=False).numpy()
        else:
            with Image.open(io.BytesIO(data)) as img:
                pixels = np.asarray(img.convert("RGB"))
    except Exception as exc:  # noqa: BLE001 - truncated or corrupt pixel data
        raise ImageError(f"corrupt {fmt} data (truncated or damaged): {plain_reason(exc)}") from None
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ImageError(f"decoded to unexpected shape {pixels.shape}")
    return DecodedImage(pixels=pixels, format=fmt, width=width, height=height)


def preprocess(images, size: int):
    """TF op: uint8 images [N,H,W,3] (or [H,W,3]) -> float32 [.., size, size, 3] in [0, 1]."""
    import tensorflow as tf

    images = tf.cast(images, tf.float32) / 255.0
    return tf.image.resize(images, [size, size], method="bilinear", antialias=True)


def to_model_input(pixels: np.ndarray, size: int) -> np.ndarray:
    """Eager version of `preprocess` for one decoded image: float32 [size, size, 3]."""
    return np.asarray(preprocess(pixels, size), dtype=np.float32)
