"""Fetching and decoding frames, the first two steps of scoring (`firewatch.beam.scoring`).

  FrameRequest --FetchObjects--> the frame's bytes --DecodeFrames--> (ScoredFrame, model inputs)

Thin Beam wrappers over `firewatch.cloud.storage.read_object` and the pure core (decoding,
regions, frame statistics); every failure becomes one dead letter on the DEAD output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from firewatch.beam.dead_letters import request_dead_letter
from firewatch.beam.masks import NAMESPACE as MASKS_NAMESPACE
from firewatch.beam.masks import MaskCache, MaskSource, shared_masks
from firewatch.cloud.storage import ReadFailure, read_object
from firewatch.core.contract import FrameRequest, MessageLimits
from firewatch.core.frame_stats import frame_stats
from firewatch.core.imaging import DecodeLimits, decode_image
from firewatch.core.masks import CameraMask
from firewatch.core.prediction import ScoredFrame
from firewatch.core.regions import RegionConfig, cut_regions
from firewatch.core.rows import sha256_hex


class FetchObjects(beam.DoFn):
    """Reads the bytes of gs:// (or, in batch, local) frames; inline frames pass through.

    Transient read failures are retried with backoff (`firewatch.cloud.storage.read_object`); only
    a missing, forbidden or too large object, or one still unreadable after the retries, is a dead
    letter (with its kind as error_type). `opener(uri)` replaces the file system (tests)."""

    def __init__(self, limits: MessageLimits, mode: str, opener: Callable[[str], Any] | None = None) -> None:
        self._limits = limits
        self._mode = mode
        self._opener = opener

    def setup(self) -> None:
        from firewatch.cloud.clients import prepare_beam_offline_auth

        prepare_beam_offline_auth()

    def process(self, request: FrameRequest):
        if request.image_bytes is not None or request.uri is None:
            yield request
            return
        try:
            data = read_object(request.uri, self._limits.max_object_bytes, opener=self._opener)
        except ReadFailure as failure:
            yield request_dead_letter(
                request, stage="fetch", reason=str(failure)[:2000], mode=self._mode, error_type=failure.kind
            )
            return
        if len(data) > self._limits.max_object_bytes:
            yield request_dead_letter(
                request,
                stage="fetch",
                mode=self._mode,
                error_type="object_too_large",
                reason=f"object {request.uri} is larger than {self._limits.max_object_bytes} bytes",
            )
            return
        yield request.model_copy(update={"image_bytes": data})


class DecodeFrames(beam.DoFn):
    """bytes -> (ScoredFrame, float32 model inputs [R, S, S, 3] of the frame's regions); bad images
    become 'decode' dead letters.

    The regions (`firewatch.core.regions`): the whole frame, plus full-resolution regions at the
    configured scales for frames of at least `min_frame_factor` model inputs. With `masks`, the camera's current
    exclusion mask (`firewatch.beam.masks`, re-read while the job runs) is blanked in the frame,
    regions mostly inside it are not scored, and the frame carries the mask's version to its row.
    Each frame also carries its statistics (`firewatch.core.frame_stats`: brightness, contrast,
    detail, a thumbnail), computed once here for day/night and camera health."""

    def __init__(
        self,
        limits: MessageLimits,
        image_size: int,
        mode: str,
        masks: MaskSource | None = None,
        regions: RegionConfig | None = None,
    ) -> None:
        self._limits = DecodeLimits(max_pixels=limits.max_pixels)
        self._size = image_size
        self._mode = mode
        self._regions = regions or RegionConfig()
        self._regions_planned = Metrics.distribution("firewatch", "regions_per_frame")
        self._mask_source = masks
        self._masks: MaskCache | None = None
        self._masked = Metrics.counter(MASKS_NAMESPACE, "frames_masked")
        self._refreshes = Metrics.counter(MASKS_NAMESPACE, "refreshes")
        self._refresh_failures = Metrics.counter(MASKS_NAMESPACE, "refresh_failures")

    def setup(self) -> None:
        if self._mask_source is not None:
            self._masks = shared_masks(self._mask_source)
            self._masks.wait_first()  # the first read only: later ones run in the background

    def process(self, request: FrameRequest):
        data = request.image_bytes or b""
        mask = self._mask_for(request.camera_id)
        rectangles = mask.boxes() if mask is not None else ()
        try:
            decoded = decode_image(data, self._limits)
            width, height = decoded.width, decoded.height
            stats = frame_stats(decoded.pixels)  # the whole picture, before the mask is blanked
            regions, model_input = cut_regions(decoded.pixels, self._size, self._regions, rectangles)
        except Exception as exc:  # noqa: BLE001 - ImageError, or anything unexpected: a dead letter
            yield request_dead_letter(
                request, stage="decode", reason=str(exc)[:2000], error_type=type(exc).__name__, mode=self._mode
            )
            return
        if rectangles:
            self._masked.inc()
        self._regions_planned.update(len(regions))
        # The encoded bytes stay with the frame (no copy: the same object): an explained frame
        # shows its original in the overlay, and a frame the model fails on keeps its payload.
        frame = ScoredFrame(
            request,
            sha256_hex(data),
            width,
            height,
            mask_version=mask.version if mask else None,
            regions=tuple(regions),
            stats=stats,
        )
        yield frame, model_input

    def _mask_for(self, camera_id: str | None) -> CameraMask | None:
        if self._masks is None:
            return None
        refreshes, failures = self._masks.take_counts()
        if refreshes:
            self._refreshes.inc(refreshes)
        if failures:
            self._refresh_failures.inc(failures)
        return self._masks.current().get(camera_id or "")
