"""`firewatch publish` refuses, before anything is sent, what the pipeline would dead-letter or Pub/Sub
would refuse: bad camera ids, files that are not images, a topic that does not exist. A send that fails
makes the command fail; nothing is reported as published that was not."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from firewatch.clients.publish import CameraSource, SourceError, check_publishable, parse_sources, publish_cameras
from firewatch.errors import UserError


def _jpeg(path: Path) -> Path:
    buffer = io.BytesIO()
    Image.fromarray(np.full((32, 48, 3), 90, np.uint8)).save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue())
    return path


@pytest.mark.parametrize("camera", ["bad cam<>", "cam/1", "-leading-dash", "x" * 129])
def test_camera_ids_the_pipeline_rejects_are_refused_up_front(tmp_path: Path, camera: str) -> None:
    frame = _jpeg(tmp_path / "a.jpg")
    with pytest.raises(UserError, match="camera_id") as refused:
        parse_sources([f"{camera}={frame}"], None)
    assert "CAMERA=PATH" in str(refused.value)
    with pytest.raises(UserError, match="camera_id"):
        parse_sources([str(frame)], camera)


def test_good_camera_ids_pass(tmp_path: Path) -> None:
    frame = _jpeg(tmp_path / "a.jpg")
    sources = parse_sources([f"cam-1={frame}", f"site:north@2={frame}"], None)
    assert [s.camera_id for s in sources] == ["cam-1", "site:north@2"]


def test_a_text_file_named_like_an_image_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "notes.jpg"
    fake.write_text("not a picture\n")
    with pytest.raises(SourceError, match=r"notes\.jpg: not a recognised image format"):
        check_publishable(fake)
    folder = tmp_path / "frames"
    folder.mkdir()
    _jpeg(folder / "0001.jpg")
    (folder / "0002.jpg").write_bytes(b"\x00" * 100)
    with pytest.raises(SourceError, match=r"0002\.jpg"):
        check_publishable(folder)


def test_a_tiny_image_is_refused_as_the_pipeline_would(tmp_path: Path) -> None:
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (4, 4)).save(tiny)
    with pytest.raises(SourceError, match="smaller than 8 pixels"):
        check_publishable(tiny)


@pytest.mark.stack
def test_a_missing_topic_is_named_before_anything_is_sent(local_stack, gcp_resources, tmp_path: Path) -> None:
    frame = _jpeg(tmp_path / "a.jpg")
    missing = f"no-such-topic-{uuid.uuid4().hex[:6]}"
    shown: list[int] = []
    with pytest.raises(SourceError, match=f"topic .*{missing} does not exist: create it") as refused:
        publish_cameras(
            [CameraSource("cam-1", [frame])],
            topic=missing,
            project=gcp_resources.project,
            fast=True,
            progress=lambda report: shown.append(report.total),
        )
    assert "firewatch infra apply" in str(refused.value)
    assert shown == []  # nothing was reported as published
    report = publish_cameras(
        [CameraSource("cam-1", [frame, frame])],
        topic=gcp_resources.frames_topic,
        project=gcp_resources.project,
        fast=True,
    )
    assert report.total == 2 and len(report.message_ids) == 2


def test_a_frame_too_large_for_one_message_is_refused_up_front_unless_uploaded(tmp_path: Path) -> None:
    big = _jpeg(tmp_path / "big.jpg")
    with big.open("ab") as handle:  # a valid JPEG header, padded past Pub/Sub's 10 MB message limit
        handle.write(b"\0" * (10 * 1024 * 1024))
    with pytest.raises(SourceError, match=r"big\.jpg is \d+ bytes, above Pub/Sub's 10485760: publish it with --as-uri"):
        check_publishable(big)
    check_publishable(big, inline=False)  # --as-uri: uploaded to the bucket, the message is a URI
