"""Scoring, shared by streaming and batch: thin Beam wrappers over the pure core.

  FrameRequest --FetchObjects--> bytes --DecodeFrames (+ the camera's exclusion mask)--> (ScoredFrame, model input)
    --RunInference(keyed FirewatchModelHandler)--> Postprocess --> Prediction

`ScoreFrames` chains them and returns (as a dict) the predictions (typed `Prediction`s, which
become rows only at the sinks), the dead letters of every stage (each failure becomes exactly
one dead-letter row, so in = predictions + dead letters), and the frames to explain
(decided once, here). Sources (`firewatch.beam.sources`) emit the `FrameRequest`s.

The steps live by what changes together: fetch and decode in `firewatch.beam.fetch_decode`,
Postprocess and GateExplanations (thresholds, the choice of frames to explain) in
`firewatch.beam.postprocess`; this module wires them (`ScoreFrames`, its step names unchanged).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
from apache_beam.typehints import KV

from firewatch.beam.baselines import BaselineSource
from firewatch.beam.dead_letters import DEAD
from firewatch.beam.fetch_decode import DecodeFrames, FetchObjects
from firewatch.beam.masks import MaskSource
from firewatch.beam.model_handler import FirewatchModelHandler
from firewatch.beam.model_info import ModelInfo as ModelInfo  # where the jobs import it from
from firewatch.beam.postprocess import CANDIDATE, EXPLAIN, GateExplanations, Postprocess
from firewatch.core.baselines import BaselineConfig
from firewatch.core.contract import MessageLimits
from firewatch.core.explain import ExplainConfig
from firewatch.core.period import NightConfig
from firewatch.core.prediction import ScoredFrame
from firewatch.core.regions import RegionConfig
from firewatch.core.rows import dead_letter_for_request


def failed_inference_rows(element: tuple[list[tuple[ScoredFrame, np.ndarray]], Any], mode: str):
    """One 'inference' dead letter per frame of a batch the model failed on. Beam's exception
    handling hands over `(batch, (exception type, repr, traceback lines))`."""
    batch, failure = element
    if isinstance(failure, tuple):
        error_type, reason = getattr(failure[0], "__name__", str(failure[0])), str(failure[1])
    else:
        error_type, reason = type(failure).__name__, str(failure)
    for frame, _ in batch:
        yield dead_letter_for_request(
            frame.request,
            stage="inference",
            reason=f"model failed on the batch: {reason}"[:2000],
            error_type=error_type,
            mode=mode,
        )


class ScoreFrames(beam.PTransform):
    """FrameRequests -> {"predictions", "dead_letters", "to_explain", "inferred"} PCollections
    ("inferred": the model's (ScoredFrame, PredictionResult) pairs, for shadow scoring's side branch).

    `loader(model_dir)` replaces the model loader (tests inject a model whose output they control);
    `masks` blanks each camera's exclusion mask before inference (`firewatch.beam.masks`);
    `model_registry` follows that registry's `current` version while the job runs
    (`firewatch.beam.model_follower`), starting from `info`'s.
    """

    def __init__(
        self,
        info: ModelInfo,
        limits: MessageLimits,
        mode: str,
        *,
        max_batch_size: int = 256,
        max_batch_wait_seconds: float = 0.0,
        explain: ExplainConfig | None = None,
        loader: Callable[[str], Any] | None = None,
        masks: MaskSource | None = None,
        regions: RegionConfig | None = None,
        baselines: BaselineSource | None = None,
        baseline_config: BaselineConfig | None = None,
        model_registry: str | None = None,
        model_refresh_seconds: float = 10.0,
        night: NightConfig | None = None,
    ) -> None:
        super().__init__()
        self._info, self._limits, self._mode = info, limits, mode
        self._registry, self._refresh = model_registry, model_refresh_seconds
        self._baselines, self._baseline_config = baselines, baseline_config
        self._night = night
        self._max_batch = max_batch_size
        self._max_wait = max_batch_wait_seconds
        self._explain = explain
        self._loader = loader
        self._masks = masks
        self._regions = regions or RegionConfig()

    def expand(self, requests):
        fetched = requests | "Fetch" >> beam.ParDo(FetchObjects(self._limits, self._mode)).with_outputs(DEAD, main="ok")
        decoded = fetched.ok | "Decode" >> beam.ParDo(
            DecodeFrames(self._limits, self._info.image_size, self._mode, self._masks, self._regions)
        ).with_outputs(DEAD, main="ok")
        handler = KeyedModelHandler(
            FirewatchModelHandler(
                self._info.model_dir,
                max_batch_size=self._max_batch,
                max_batch_duration_secs=self._max_wait,
                loader=self._loader,
                registry=self._registry,
                image_size=self._info.image_size,
                refresh_seconds=self._refresh,
            )
        )
        inferred, failed = decoded.ok | "Infer" >> RunInference(handler).with_exception_handling()
        failed_rows = failed.failed_inferences | "FailedInference" >> beam.FlatMap(
            failed_inference_rows, mode=self._mode
        )
        post = inferred | "Postprocess" >> beam.ParDo(
            Postprocess(
                self._info,
                self._mode,
                self._explain,
                self._regions.max_boxes,
                self._baselines,
                self._baseline_config,
                self._night,
            )
        ).with_outputs(EXPLAIN, CANDIDATE, main="predictions")
        dead = (fetched[DEAD], decoded[DEAD], failed_rows) | "DeadLetters" >> beam.Flatten()
        if self._mode != "streaming" or self._explain is None:
            return {
                "predictions": post.predictions,
                "dead_letters": dead,
                "to_explain": post[EXPLAIN],
                "inferred": inferred,
            }
        gated = (
            post[CANDIDATE]
            | "TypeCameraKey" >> beam.Map(lambda kv: kv).with_output_types(KV[str, Any])
            | "GateExplanations"
            >> beam.ParDo(GateExplanations(self._explain)).with_outputs(EXPLAIN, main="predictions")
        )
        predictions = (post.predictions, gated.predictions) | "AllPredictions" >> beam.Flatten()
        to_explain = (post[EXPLAIN], gated[EXPLAIN]) | "AllToExplain" >> beam.Flatten()
        return {"predictions": predictions, "dead_letters": dead, "to_explain": to_explain, "inferred": inferred}
