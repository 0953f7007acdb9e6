"""Publisher sources: files, folders in name order, animated images, and clear errors."""

import io

import pytest
from PIL import Image

from firewatch.clients.publish import SourceError, SourceFrame, frame_attributes, iter_source


def png(color):
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(buf, format="PNG")
    return buf.getvalue()


def test_folder_frames_in_name_order(tmp_path):
    for name in ("b.png", "a.png", "c.txt"):
        (tmp_path / name).write_bytes(png("red") if name.endswith("png") else b"x")
    assert [f.name for f in iter_source(tmp_path)] == ["a.png", "b.png"]


def test_animated_gif_yields_each_frame(tmp_path):
    frames = [Image.new("RGB", (16, 16), c) for c in ("red", "green", "blue")]
    frames[0].save(tmp_path / "clip.gif", save_all=True, append_images=frames[1:])
    out = list(iter_source(tmp_path / "clip.gif"))
    assert [f.name for f in out] == ["clip-00000.png", "clip-00001.png", "clip-00002.png"]
    assert Image.open(io.BytesIO(out[1].data)).getpixel((0, 0))[1] > 100  # green


def test_missing_and_unsupported_sources(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        list(iter_source(tmp_path / "nope.png"))
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(SourceError, match="unsupported"):
        list(iter_source(tmp_path / "notes.txt"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="holds no images"):
        list(iter_source(empty))


def test_attributes_follow_the_contract():
    from datetime import UTC, datetime

    from firewatch.core.contract import parse_message

    attrs = frame_attributes("cam-1", SourceFrame("f.png", png("red"), "image/png"), datetime(2026, 1, 1, tzinfo=UTC))
    request = parse_message(png("red"), attrs)
    assert request.camera_id == "cam-1" and request.frame_id == "f.png"
    assert request.captured_at == datetime(2026, 1, 1, tzinfo=UTC)


def test_video_is_sampled_at_the_requested_fps(tmp_path):
    import imageio.v3 as iio
    import numpy as np

    clip = np.stack([np.full((32, 32, 3), 8 * i, np.uint8) for i in range(20)])  # 2 s at 10 fps
    path = tmp_path / "clip.mp4"
    iio.imwrite(path, clip, fps=10, codec="libx264", macro_block_size=1)
    every = list(iter_source(path))
    assert len(every) == 20
    sampled = list(iter_source(path, fps=2))
    assert [f.name for f in sampled] == [f"clip-{i:05d}.png" for i in range(0, 20, 5)]
    brightness = [np.asarray(Image.open(io.BytesIO(f.data))).mean() for f in sampled]
    assert brightness == sorted(brightness) and brightness[-1] - brightness[0] > 80
