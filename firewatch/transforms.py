"""Beam transforms shared by streaming and batch: thin wrappers over the pure core.

  FrameRequest --FetchObjects--> bytes --DecodeFrames--> (ScoredFrame, model input)
    --RunInference(keyed FirewatchModelHandler)--> Postprocess --> prediction rows

`ScoreFrames` chains them and returns (as a dict) the predictions, the dead letters of every stage
(each failure becomes exactly one dead-letter row, so in = predictions + dead letters),
and the frames to explain. `ParsePubsubMessages` is the streaming entry point; batch
sources emit `FrameRequest`s (or dead letters) directly.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam import pvalue
from apache_beam.ml.inference.base import KeyedModelHandler, PredictionResult, RunInference

from firewatch.contract import FrameRequest, MessageLimits, describe_error, parse_message
from firewatch.explain import ExplainConfig, should_explain
from firewatch.explain_transform import ExplainFrames, sample_value
from firewatch.imaging import DecodeLimits, decode_image, to_model_input
from firewatch.inference import FirewatchModelHandler
from firewatch.rows import (
    ScoredFrame,
    dead_letter_for_request,
    dead_letter_row,
    prediction_row,
    sha256_hex,
)

DEAD = "dead_letter"
EXPLAIN = "explain"


@dataclass(frozen=True)
class ModelInfo:
    """What the pipeline needs to know about the model at construction time."""

    model_dir: str
    model_version: str
    image_size: int
    threshold: float

    @classmethod
    def read(cls, model_dir: str) -> ModelInfo:
        from firewatch.cli import UserError
        from model.exported import read_metadata

        try:
            meta = read_metadata(model_dir)
        except (FileNotFoundError, ValueError) as exc:
            raise UserError(f"--model {model_dir}: {exc}") from None
        return cls(model_dir, meta.model_version, meta.image_size, meta.threshold)


def dead_letter(**fields: Any) -> pvalue.TaggedOutput:
    """A dead-letter row on the DEAD output (fields as for `firewatch.rows.dead_letter_row`)."""
    return pvalue.TaggedOutput(DEAD, dead_letter_row(**fields))


def request_dead_letter(request: FrameRequest, **fields: Any) -> pvalue.TaggedOutput:
    """The dead letter of a validated frame that failed later (see `dead_letter_for_request`)."""
    return pvalue.TaggedOutput(DEAD, dead_letter_for_request(request, **fields))


def as_utc_datetime(value: Any) -> datetime | None:
    """A Pub/Sub publish time as an aware UTC datetime, whatever the runner hands over
    (a Beam Timestamp, a protobuf Timestamp, or a datetime subclass)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if hasattr(value, "to_utc_datetime"):
        return value.to_utc_datetime(has_tz=True)
    if hasattr(value, "ToDatetime"):
        return value.ToDatetime(tzinfo=UTC)
    return datetime.fromtimestamp(float(value), UTC)


class ParsePubsubMessages(beam.DoFn):
    """PubsubMessage -> FrameRequest, or a 'validate' dead letter."""

    def __init__(self, limits: MessageLimits, mode: str = "streaming") -> None:
        self._limits = limits
        self._mode = mode

    def process(self, message: Any):
        data, attributes = message.data or b"", dict(message.attributes or {})
        message_id = getattr(message, "message_id", None)
        try:
            publish_time = as_utc_datetime(getattr(message, "publish_time", None))
            yield parse_message(data, attributes, self._limits, message_id=message_id, publish_time=publish_time)
        except Exception as exc:  # noqa: BLE001 - no message may stop the stream
            rule, reason = describe_error(exc)
            yield dead_letter(
                stage="validate",
                reason=reason,
                error_type=rule,
                mode=self._mode,
                payload=data,
                attributes=attributes,
                message_id=message_id,
            )


class FetchObjects(beam.DoFn):
    """Reads the bytes of gs:// (or, in batch, local) frames; inline frames pass through."""

    def __init__(self, limits: MessageLimits, mode: str) -> None:
        self._limits = limits
        self._mode = mode

    def setup(self) -> None:
        from firewatch.gcp import prepare_beam_offline_auth

        prepare_beam_offline_auth()

    def process(self, request: FrameRequest):
        if request.image_bytes is not None or request.uri is None:
            yield request
            return
        from apache_beam.io.filesystems import FileSystems

        try:
            with FileSystems.open(request.uri) as handle:
                data = handle.read(self._limits.max_object_bytes + 1)
        except Exception as exc:  # noqa: BLE001 - any read failure is a dead letter
            missing = "not found" in str(exc).lower() or isinstance(exc, FileNotFoundError) or "404" in str(exc)
            reason = f"object {request.uri} does not exist" if missing else f"could not read {request.uri}: {exc}"
            yield request_dead_letter(
                request,
                stage="fetch",
                reason=reason[:2000],
                mode=self._mode,
                error_type="object_not_found" if missing else type(exc).__name__,
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
    """bytes -> (ScoredFrame, float32 model input); bad images become 'decode' dead letters."""

    def __init__(self, limits: MessageLimits, image_size: int, mode: str) -> None:
        self._limits = DecodeLimits(max_pixels=limits.max_pixels)
        self._size = image_size
        self._mode = mode

    def process(self, request: FrameRequest):
        data = request.image_bytes or b""
        try:
            decoded = decode_image(data, self._limits)
            model_input = to_model_input(decoded.pixels, self._size)
        except Exception as exc:  # noqa: BLE001 - ImageError, or anything unexpected: a dead letter
            yield request_dead_letter(
                request, stage="decode", reason=str(exc)[:2000], error_type=type(exc).__name__, mode=self._mode
            )
            return
        # The encoded bytes stay with the frame (no copy: the same object): an explained frame
        # shows its original in the overlay, and a frame the model fails on keeps its payload.
        frame = ScoredFrame(request, sha256_hex(data), decoded.width, decoded.height)
        yield frame, model_input


class Postprocess(beam.DoFn):
    """(ScoredFrame, PredictionResult) -> prediction row; frames to explain also go to 'explain'."""

    def __init__(self, info: ModelInfo, mode: str, explain: ExplainConfig | None = None) -> None:
        self._info = info
        self._mode = mode
        self._explain = explain

    def process(self, element: tuple[ScoredFrame, PredictionResult]):
        frame, result = element
        row = prediction_row(
            frame,
            float(result.inference),
            threshold=self._info.threshold,
            model_version=result.model_id or self._info.model_version,
            mode=self._mode,
            processed_at=datetime.now(UTC),
        )
        yield row
        if self._explain is not None and should_explain(row["label"], sample_value(row["frame_key"]), self._explain):
            model_input = np.asarray(result.example)
            original = preview_pixels(frame.request.image_bytes)
            yield pvalue.TaggedOutput(EXPLAIN, (row, model_input) if original is None else (row, model_input, original))


PREVIEW_MAX_SIDE = 640


def preview_pixels(data: bytes | None, max_side: int = PREVIEW_MAX_SIDE) -> np.ndarray | None:
    """The original frame, at most `max_side` pixels on a side, for the explanation overlay."""
    if not data:
        return None
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (max_side, max_side))  # JPEG: decode at reduced scale directly
            picture = image.convert("RGB")
            picture.thumbnail((max_side, max_side))
            return np.asarray(picture)
    except Exception:  # noqa: BLE001 - the overlay then shows the model's view instead
        return None


def failed_inference_rows(element: tuple[list[tuple[ScoredFrame, np.ndarray]], Exception], mode: str):
    """One 'inference' dead letter per frame of a batch the model failed on."""
    batch, exc = element
    for frame, _ in batch:
        yield dead_letter_for_request(
            frame.request,
            stage="inference",
            reason=f"model failed on the batch: {exc}"[:2000],
            error_type=type(exc).__name__,
            mode=mode,
        )


class ScoreFrames(beam.PTransform):
    """FrameRequests -> {"predictions", "dead_letters", "to_explain"} PCollections."""

    def __init__(
        self,
        info: ModelInfo,
        limits: MessageLimits,
        mode: str,
        *,
        max_batch_size: int = 32,
        explain: ExplainConfig | None = None,
    ) -> None:
        super().__init__()
        self._info, self._limits, self._mode = info, limits, mode
        self._max_batch = max_batch_size
        self._explain = explain

    def expand(self, requests):
        fetched = requests | "Fetch" >> beam.ParDo(FetchObjects(self._limits, self._mode)).with_outputs(DEAD, main="ok")
        decoded = fetched.ok | "Decode" >> beam.ParDo(
            DecodeFrames(self._limits, self._info.image_size, self._mode)
        ).with_outputs(DEAD, main="ok")
        handler = KeyedModelHandler(FirewatchModelHandler(self._info.model_dir, max_batch_size=self._max_batch))
        inferred, failed = decoded.ok | "Infer" >> RunInference(handler).with_exception_handling()
        failed_rows = failed.failed_inferences | "FailedInference" >> beam.FlatMap(
            failed_inference_rows, mode=self._mode
        )
        post = inferred | "Postprocess" >> beam.ParDo(Postprocess(self._info, self._mode, self._explain)).with_outputs(
            EXPLAIN, main="rows"
        )
        dead = (fetched[DEAD], decoded[DEAD], failed_rows) | "DeadLetters" >> beam.Flatten()
        return {"predictions": post.rows, "dead_letters": dead, "to_explain": post[EXPLAIN]}


class ExplainScored(beam.PTransform):
    """(prediction row, model input) -> {"rows": explanation rows, "dead_letters": failures}.

    A separate branch: it consumes the frames Postprocess selected and never feeds back into
    predictions or alerts, so slow explanations cannot hold them up.
    """

    def __init__(self, model_dir: str, output_prefix: str, config: ExplainConfig, mode: str) -> None:
        super().__init__()
        self._args = (model_dir, output_prefix, config, mode)

    def expand(self, to_explain):
        model_dir, prefix, config, mode = self._args
        result = to_explain | "Explain" >> beam.ParDo(
            ExplainFrames(model_dir, prefix, config=config, mode=mode)
        ).with_outputs(DEAD, main="rows")
        return {"rows": result.rows, "dead_letters": result[DEAD]}
