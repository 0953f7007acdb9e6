"""Publishing frames to the frames topic, as a camera or an uploader would.

Sources are image files, folders (frames in name order), or animated images / videos
(each frame in turn). Each frame is published as the encoded bytes, or uploaded to GCS
first and published as `{"uri": "gs://..."}`. Several cameras publish interleaved at a
given fps; `captured_at` is stamped per frame (real time when paced, or spaced 1/fps
apart from a start time with `fast=True`, which is how replays and demos run).
The message is exactly the documented contract, so `gcloud pubsub topics publish` works too.
"""

from __future__ import annotations

import io
import json
import mimetypes
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain, count
from pathlib import Path

from firewatch.config.scoring import DEFAULT_NAMES
from firewatch.core.contract import PUBSUB_MAX_MESSAGE_BYTES, ContractError, check_camera_id
from firewatch.core.names import resource_path
from firewatch.core.rows import rfc3339

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
SEQUENCE_SUFFIXES = {".gif", ".mp4", ".avi", ".mov", ".mkv", ".webm"}


class SourceError(ValueError):
    """A source path that cannot be published; the message says why."""


@dataclass(frozen=True)
class SourceFrame:
    name: str  # used as frame_id and object name
    data: bytes
    content_type: str


def check_source(path: Path) -> None:
    """Raise SourceError, before anything is read, for a source that cannot give frames (a missing
    path, a folder without images, a file of another type). Shared with the edge runner, which skips
    a frame it cannot decode."""
    if path.is_dir():
        if not any(p.suffix.lower() in IMAGE_SUFFIXES | SEQUENCE_SUFFIXES for p in path.rglob("*")):
            raise SourceError(f"{path} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    elif not path.is_file():
        raise SourceError(f"{path} does not exist")
    elif path.suffix.lower() not in IMAGE_SUFFIXES | SEQUENCE_SUFFIXES:
        raise SourceError(f"{path}: unsupported file type {path.suffix or '(none)'}")


def check_publishable(path: Path, *, inline: bool = True) -> None:
    """`check_source`, and every still image's header as the pipeline checks it: a file that is not
    an image whatever its name, too many pixels, or too small is refused before anything is sent;
    so is a file too large for one Pub/Sub message when frames go inline (`inline`, not --as-uri).
    Only headers are read here: each file is read whole once, when it is published."""
    check_source(path)
    files = sorted(path.rglob("*")) if path.is_dir() else [path]
    for file in files:
        if file.suffix.lower() in IMAGE_SUFFIXES:
            _check_still(file, inline)


def _check_still(path: Path, inline: bool) -> None:
    from firewatch.core.imaging import ImageError, inspect_image

    try:
        inspect_image(path)
    except ImageError as exc:
        raise SourceError(f"{path}: {exc}") from None
    size = path.stat().st_size
    if inline and size > PUBSUB_MAX_MESSAGE_BYTES:
        raise SourceError(
            f"{path} is {size} bytes, above Pub/Sub's {PUBSUB_MAX_MESSAGE_BYTES}: "
            "publish it with --as-uri (uploaded to the frames bucket first)"
        )


def check_camera_ids(sources: list[CameraSource]) -> None:
    """Raise SourceError for a camera id the pipeline would dead-letter (`check_camera_id`)."""
    for source in sources:
        try:
            check_camera_id(source.camera_id)
        except ContractError as exc:
            raise SourceError(exc.reason) from None


def iter_source(path: Path, fps: float | None = None) -> Iterator[SourceFrame]:
    """Frames of one source: a file, a folder of images, or an animated image / video
    (a video is sampled at `fps` frames per second of its own time)."""
    check_source(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES | SEQUENCE_SUFFIXES)
        for file in files:
            yield from iter_source(file, fps)
    elif path.suffix.lower() in SEQUENCE_SUFFIXES:
        yield from _sequence_frames(path, fps)
    else:
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        yield SourceFrame(path.name, path.read_bytes(), content_type)


def _sequence_frames(path: Path, fps: float | None) -> Iterator[SourceFrame]:
    """Frames of an animated image or a video; a video is sampled at `fps` (its own rate if None)."""
    from PIL import Image, ImageSequence

    if path.suffix.lower() == ".gif":
        with Image.open(path) as img:
            for i, frame in enumerate(ImageSequence.Iterator(img)):
                yield SourceFrame(f"{path.stem}-{i:05d}.png", _png(frame.convert("RGB")), "image/png")
        return
    try:
        import imageio.v3 as iio

        native = float(iio.immeta(path).get("fps") or 0) or None
        frames = iio.imiter(path)
        step = max(1.0, native / fps) if native and fps else 1.0
        next_index = 0.0
        for i, pixels in enumerate(frames):
            if i + 1e-9 < next_index:
                continue
            next_index += step
            yield SourceFrame(f"{path.stem}-{i:05d}.png", _png(Image.fromarray(pixels).convert("RGB")), "image/png")
    except Exception as exc:  # noqa: BLE001 - unreadable video: say what to do
        raise SourceError(f"cannot read video {path} ({exc}); extract its frames to a folder instead") from None


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def frame_attributes(camera_id: str, frame: SourceFrame, captured_at: datetime) -> dict[str, str]:
    return {
        "camera_id": camera_id,
        "frame_id": frame.name,
        "captured_at": rfc3339(captured_at) or "",
        "content_type": frame.content_type,
    }


@dataclass
class PublishReport:
    published: dict[str, int] = field(default_factory=dict)
    message_ids: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.published.values())


@dataclass
class CameraSource:
    camera_id: str
    paths: list[Path]


def publish_cameras(
    sources: list[CameraSource],
    *,
    topic: str,
    project: str,
    fps: float = 1.0,
    as_uri: bool = False,
    bucket: str = DEFAULT_NAMES.frames_bucket,
    fast: bool = False,
    start: datetime | None = None,
    progress: Callable[[PublishReport], None] | None = None,
) -> PublishReport:
    """Publish every camera's frames, interleaved, at `fps` frames per second per camera.

    Sources are checked before anything is sent, then read lazily: a long video is never held
    in memory, and paced publishing starts at once.
    """
    from firewatch.cloud.clients import publisher_client, storage_client

    if fps <= 0:
        raise SourceError("fps must be positive")
    check_camera_ids(sources)
    for source in sources:
        for path in source.paths:
            check_publishable(path, inline=not as_uri)
    streams = {s.camera_id: chain.from_iterable(iter_source(p, fps) for p in s.paths) for s in sources}
    publisher = publisher_client()
    topic_path = resource_path("topics", topic, project)
    check_topic(publisher, topic_path)
    storage_bucket = storage_client(project).bucket(bucket) if as_uri else None
    start = start or datetime.now(UTC)
    report = PublishReport({camera: 0 for camera in streams})
    futures = []
    for index in count():
        tick = [(camera, frame) for camera, stream in streams.items() if (frame := next(stream, None)) is not None]
        if not tick:
            break
        captured_at = start + timedelta(seconds=index / fps)
        if not fast:
            delay = (captured_at - datetime.now(UTC)).total_seconds()
            if delay > 0:
                time.sleep(delay)
            captured_at = datetime.now(UTC)
        for camera_id, frame in tick:
            attributes = frame_attributes(camera_id, frame, captured_at)
            if storage_bucket is not None:
                name = f"{camera_id}/{frame.name}"
                storage_bucket.blob(name).upload_from_string(frame.data, content_type=frame.content_type)
                data = json.dumps({"uri": f"gs://{bucket}/{name}"}).encode()
            else:
                data = frame.data
                if len(data) > PUBSUB_MAX_MESSAGE_BYTES:
                    raise SourceError(
                        f"{camera_id}/{frame.name} is {len(data)} bytes, above Pub/Sub's {PUBSUB_MAX_MESSAGE_BYTES}: "
                        "publish it with --as-uri (uploaded to the frames bucket first)"
                    )
            futures.append(publisher.publish(topic_path, data, **attributes))
            report.published[camera_id] += 1
            if progress:
                progress(report)
    report.message_ids, failures = [], []
    for future in futures:
        try:
            report.message_ids.append(future.result(timeout=60))
        except Exception as exc:  # noqa: BLE001 - counted and reported below, never silent
            failures.append(exc)
    if failures:
        raise PublishFailed(report, failures)
    return report


class PublishFailed(SourceError):
    """Some frames were not accepted by Pub/Sub; the message says how many and the first reason."""

    def __init__(self, report: PublishReport, failures: list[BaseException]) -> None:
        from firewatch.core.contract import first_line

        self.report, self.failures = report, failures
        sent = len(report.message_ids)
        super().__init__(
            f"{len(failures)} of {sent + len(failures)} frames were not published "
            f"(first error: {type(failures[0]).__name__}: {first_line(failures[0])})"
        )


def check_topic(publisher, topic_path: str) -> None:
    """SourceError when the topic does not exist, before any frame is sent. A publisher without
    `pubsub.topics.get` (roles/pubsub.publisher alone) skips the check: the sends then say."""
    from google.api_core import exceptions

    try:
        publisher.get_topic(request={"topic": topic_path})
    except exceptions.NotFound:
        raise SourceError(
            f"topic {topic_path} does not exist: create it with `firewatch infra apply` "
            "(or start the local stack with `firewatch stack up`), or pass --topic"
        ) from None
    except exceptions.PermissionDenied:
        return


def print_progress(report: PublishReport) -> None:
    cams = " ".join(f"{c}:{n}" for c, n in report.published.items())
    print(f"\rpublished {report.total}  [{cams}]", end="", file=sys.stderr, flush=True)


def parse_sources(values: list[str], camera: str | None) -> list[CameraSource]:
    """`CAMERA=PATH` or `PATH` (camera from `camera`) command-line sources, grouped by camera."""
    from firewatch.errors import UserError

    by_camera: dict[str, list[Path]] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if sep and not Path(value).exists():
            cam, source = name, path
        elif camera:
            cam, source = camera, value
        else:
            raise UserError(f"source {value!r} has no camera: use --camera ID or CAMERA=PATH")
        by_camera.setdefault(cam, []).append(Path(source))
    sources = [CameraSource(cam, paths) for cam, paths in by_camera.items()]
    try:
        check_camera_ids(sources)
    except SourceError as exc:
        raise UserError(f"{exc} (give sources as CAMERA=PATH or use --camera ID)") from None
    return sources
