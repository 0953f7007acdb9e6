"""Decode errors say what is wrong in the user's terms: the configured pixel limit (not Pillow's), and
no TensorFlow internals (`{{function_node ...}}`, `[Op:DecodeImage]`)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from firewatch.core.imaging import DecodeLimits, ImageError, decode_image, inspect_image, plain_reason


def _encoded(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "BMP"])
def test_a_truncated_image_is_reported_without_tensorflow_internals(fmt: str) -> None:
    data = _encoded(fmt)
    with pytest.raises(ImageError) as info:
        decode_image(data[: len(data) // 2])
    message = str(info.value)
    assert message.startswith(f"corrupt {fmt} data (truncated or damaged)") or "unreadable image header" in message
    for noise in ("{{", "function_node", "[Op:", "::Uncompress"):
        assert noise not in message, message


def test_plain_reason_strips_the_op_and_node() -> None:
    raw = (
        "{{function_node __wrapped__DecodeImage_device_/job:localhost/replica:0/task:0/device:CPU:0}} "
        "jpeg::Uncompress failed. Invalid JPEG data or crop window. [Op:DecodeImage] name: "
    )
    assert plain_reason(RuntimeError(raw)) == "Invalid JPEG data or crop window."


def test_the_configured_pixel_limit_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _encoded("PNG")
    with pytest.raises(ImageError, match=r"160x120=19200 pixels, above the limit of 10000"):
        inspect_image(data, DecodeLimits(max_pixels=10_000))

    def bomb(*args, **kwargs):
        raise Image.DecompressionBombError("Image size (400000000 pixels) exceeds limit of 178956970 pixels")

    monkeypatch.setattr(Image, "open", bomb)
    with pytest.raises(ImageError) as info:
        inspect_image(data, DecodeLimits(max_pixels=40_000_000))
    assert str(info.value) == "image has more pixels than the limit of 40000000"
    assert "178956970" not in str(info.value)
