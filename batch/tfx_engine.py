"""The tfx-bsl batch engine (`--inference-engine tfx-bsl`): the ingest's tf.Example TFRecords scored
by tfx-bsl's RunInference, decode and preprocess inside the model graph.

  serialized tf.Example --ValidateExamples--> (ScoredFrame, serialized)
    --RunInference(tfx-bsl's in-process SavedModel handler, batched)--> (ScoredFrame, PredictionLog)
    --PostprocessLogs--> Prediction (+ the frames to explain)

The model is `batch.tfx_model.tf_example_model(MODEL_DIR)` (the export re-wrapped with a tf.Example
signature). tfx-bsl's handler (`tfx_bsl.public.beam.run_inference.CreateModelHandler`) runs under
Beam's RunInference with exception handling, so every record still becomes a prediction or a dead
letter, never a failed job:

* a record that is not a Firewatch example (`firewatch.beam.sources.request_from_record`, as for the
  default engine) is a 'read'
  dead letter; an image whose header Pillow refuses (not an image, too many pixels, too small) or
  that the graph cannot decode (WebP, TIFF) is a 'decode' dead letter, all before inference;
* a corrupt image that passes the header check fails `tf.io.decode_image` in the graph, which fails
  its whole batch: the frames of a failed batch are scored again one at a time, and only the frame
  that fails alone becomes a dead letter ('decode' for TF's InvalidArgumentError, else 'inference').

The output is the same typed `Prediction`s, dead-letter rows and explain tuples as `ScoreFrames`, so
the sinks and the explain branch are shared. Frames chosen for explanation are decoded in Python
(the explain branch needs the model input and the original pixels; batch explains fire frames only).
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.ml.inference.base import KeyedModelHandler, PredictionResult, RunInference

from firewatch.beam.dead_letters import DEAD, request_dead_letter
from firewatch.beam.postprocess import EXPLAIN, Postprocess, preview_pixels
from firewatch.beam.scoring import ModelInfo
from firewatch.beam.sources import MODE, record_dead_letter, request_from_record
from firewatch.core.contract import MessageLimits
from firewatch.core.explain import ExplainConfig
from firewatch.core.imaging import TF_FORMATS, DecodeLimits, ImageError, decode_image, inspect_image, to_model_input
from firewatch.core.prediction import ScoredFrame
from firewatch.core.rows import dead_letter_for_request, sha256_hex

ENGINE = "tfx-bsl"


class ValidateExamples(beam.DoFn):
    """serialized record -> (ScoredFrame, serialized record), or a 'read' / 'decode' dead letter."""

    def __init__(self, limits: MessageLimits, camera_id: str | None) -> None:
        self._limits = DecodeLimits(max_pixels=limits.max_pixels)
        self._camera = camera_id

    def process(self, serialized: bytes):
        try:
            request = request_from_record(serialized, self._camera)
        except Exception as exc:  # noqa: BLE001 - a damaged record is a dead letter, not a crash
            yield record_dead_letter(serialized, exc)
            return
        data = request.image_bytes or b""
        try:
            fmt, width, height = inspect_image(data, self._limits)
            if fmt not in TF_FORMATS:
                raise ImageError(
                    f"{fmt} is not decoded in the model graph (tf.io.decode_image reads {sorted(TF_FORMATS)}); "
                    "score this input with --inference-engine firewatch"
                )
        except ImageError as exc:
            yield request_dead_letter(
                request, stage="decode", reason=str(exc)[:2000], error_type="ImageError", mode=MODE
            )
            return
        yield ScoredFrame(request, sha256_hex(data), width, height), serialized


def describe_failure(failure: Any) -> tuple[str, str]:
    """(error type, a one-line reason) from Beam's exception handling: an exception, or
    `(exception type, repr, formatted traceback)`. TF's messages start with a generic line."""
    if isinstance(failure, tuple):
        error_type, text = getattr(failure[0], "__name__", str(failure[0])), str(failure[1])
        trace = failure[2] if len(failure) > 2 and failure[2] else None
        if trace:  # the repr of a TF error is empty ("InvalidArgumentError()"); the traceback's last line is not
            last = str(trace[-1])
            text = last.split(": ", 1)[1] if last.split(": ", 1)[0].endswith(error_type) else last
    else:
        error_type, text = type(failure).__name__, str(failure)
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("[[")]
    meaningful = [line for line in lines if not line.startswith("Graph execution error")]
    return error_type, (meaningful or lines or [text])[0][:2000]


def single_frames(element: tuple[list[tuple[ScoredFrame, bytes]], Any]):
    """A failed batch -> its frames, to be scored again one at a time."""
    batch, _ = element
    yield from batch


def failed_frame_rows(element: tuple[list[tuple[ScoredFrame, bytes]], Any]):
    """A frame that fails alone -> its dead letter: in-graph decode errors are TF InvalidArgumentErrors."""
    batch, failure = element
    error_type, reason = describe_failure(failure)
    stage = "decode" if error_type == "InvalidArgumentError" else "inference"
    for frame, _ in batch:
        yield dead_letter_for_request(
            frame.request, stage=stage, reason=f"in-graph: {reason}", error_type=error_type, mode=MODE
        )


def probability_of(log: Any) -> float:
    """The fire probability in a tfx-bsl PredictLog (one example's output tensor)."""
    from batch.tfx_model import OUTPUT_NAME

    tensor = log.predict_log.response.outputs[OUTPUT_NAME]
    if tensor.float_val:
        return float(tensor.float_val[0])
    import tensorflow as tf

    return float(tf.make_ndarray(tensor).reshape(-1)[0])


class PostprocessLogs(Postprocess):
    """(ScoredFrame, PredictionLog) -> Prediction, by `Postprocess` (same explain decision and
    counters); a frame chosen for explanation is decoded here for the explain branch."""

    def __init__(self, info: ModelInfo, limits: MessageLimits, explain: ExplainConfig | None = None) -> None:
        super().__init__(info, MODE, explain)
        self._limits = DecodeLimits(max_pixels=limits.max_pixels)
        self._size = info.image_size

    def process(self, element: tuple[ScoredFrame, Any]):
        frame, log = element
        probability = probability_of(log)
        result = PredictionResult(None, probability, model_id=self._info.model_version)
        for out in super().process((frame, result)):
            if isinstance(out, pvalue.TaggedOutput):  # chosen for explanation: the explain branch's input
                prediction = out.value[0]
                data = frame.request.image_bytes or b""
                try:
                    model_input = to_model_input(decode_image(data, self._limits).pixels, self._size)
                except Exception as exc:  # noqa: BLE001 - scored in-graph, yet Python cannot decode it
                    yield request_dead_letter(
                        frame.request, stage="explain", reason=str(exc)[:2000], error_type=type(exc).__name__, mode=MODE
                    )
                    continue
                yield pvalue.TaggedOutput(EXPLAIN, (prediction, model_input, preview_pixels(data)))
            else:
                yield out


def inference_spec(model_path: str, max_batch_size: int):
    """tfx-bsl's InferenceSpecType for the in-process tf.Example model."""
    from tfx_bsl.public.proto import model_spec_pb2

    from batch.tfx_model import SIGNATURE

    return model_spec_pb2.InferenceSpecType(
        saved_model_spec=model_spec_pb2.SavedModelSpec(model_path=model_path, signature_name=[SIGNATURE]),
        batch_parameters=model_spec_pb2.BatchParameters(min_batch_size=1, max_batch_size=max_batch_size),
    )


class TfxScoreRecords(beam.PTransform):
    """serialized ingest records -> {"predictions", "dead_letters", "to_explain"}, like `ScoreFrames`."""

    def __init__(
        self,
        info: ModelInfo,
        limits: MessageLimits,
        camera_id: str | None,
        *,
        max_batch_size: int = 64,
        explain: ExplainConfig | None = None,
        model_path: str | None = None,
    ) -> None:
        super().__init__()
        self._info, self._limits, self._camera = info, limits, camera_id
        self._max_batch = max_batch_size
        self._explain = explain
        self._model_path = model_path

    def expand(self, records):
        from tfx_bsl.public.beam.run_inference import CreateModelHandler

        from batch.tfx_model import tf_example_model

        path = self._model_path or tf_example_model(self._info.model_dir)
        valid = records | "Validate" >> beam.ParDo(ValidateExamples(self._limits, self._camera)).with_outputs(
            DEAD, main="ok"
        )
        batched = KeyedModelHandler(CreateModelHandler(inference_spec(path, self._max_batch)))
        inferred, failed = valid.ok | "TfxInfer" >> RunInference(batched).with_exception_handling()
        alone = failed.failed_inferences | "FailedBatchFrames" >> beam.FlatMap(single_frames)
        one_by_one = KeyedModelHandler(CreateModelHandler(inference_spec(path, 1)))
        retried, failed_alone = alone | "TfxInferAlone" >> RunInference(one_by_one).with_exception_handling()
        failed_rows = failed_alone.failed_inferences | "FailedFrames" >> beam.FlatMap(failed_frame_rows)
        scored = (inferred, retried) | "AllScored" >> beam.Flatten()
        post = scored | "PostprocessLogs" >> beam.ParDo(
            PostprocessLogs(self._info, self._limits, self._explain)
        ).with_outputs(EXPLAIN, DEAD, main="predictions")
        dead = (valid[DEAD], failed_rows, post[DEAD]) | "DeadLetters" >> beam.Flatten()
        return {"predictions": post.predictions, "dead_letters": dead, "to_explain": post[EXPLAIN]}
