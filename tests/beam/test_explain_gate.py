"""The per-camera explanation rate across worker processes (issue 21, item 9): the policy's state is
Beam's keyed state, keyed by camera, so two processes (two DoFn instances) that score frames of
the same camera decide against one state, and the camera is explained at the configured rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import apache_beam as beam
import numpy as np
from apache_beam import pvalue

from firewatch.beam.postprocess import EXPLAIN, GateExplanations
from firewatch.core.explain import ExplainConfig
from firewatch.core.explain_policy import ExplainPolicy
from firewatch.core.prediction import Prediction
from streaming import pipeline as streaming_graph
from streaming.config import StreamingConfig

T0 = datetime(2026, 12, 3, 12, tzinfo=UTC)
CONFIG = ExplainConfig(min_interval_seconds=5.0)


class KeyedState:
    """What the runner gives the DoFn for one key: the same state whichever worker processes it."""

    def __init__(self) -> None:
        self.value = None

    def read(self):
        return self.value

    def write(self, value) -> None:
        self.value = value

    def clear(self) -> None:
        self.value = None


def fire_frame(second: int) -> Prediction:
    return Prediction(
        frame_key=f"cam-1/{second}",
        camera_id="cam-1",
        frame_id=str(second),
        captured_at=T0 + timedelta(seconds=second),
        processed_at=T0,
        probability=0.9,
        threshold=0.5,
        model_version="v1",
        mode="streaming",
        explain=True,
    )


def test_two_processes_explain_a_camera_at_most_at_the_configured_rate():
    """Ten fire frames one second apart, scored alternately by two processes: with a 5 s interval
    the camera gets the frames at 0 s and 5 s explained, as a single process would."""
    clock = iter(range(100, 200))
    processes = [GateExplanations(CONFIG, clock=lambda: float(next(clock))) for _ in range(2)]
    state = KeyedState()  # the camera's keyed state
    chosen, predictions = [], []
    for second in range(10):
        gate = processes[second % 2]
        element = ("cam-1", (fire_frame(second), np.zeros((4, 4, 3), np.float32), None))
        for out in gate.process(element, state=state):
            if isinstance(out, pvalue.TaggedOutput):
                assert out.tag == EXPLAIN
                chosen.append(out.value[0].frame_id)
            else:
                predictions.append(out)
    assert chosen == ["0", "5"]
    assert [p.frame_id for p in predictions if p.explain] == ["0", "5"]  # the rows say so too
    assert len(predictions) == 10  # every frame is still a prediction

    # What a policy per process did: each process opened its own episode and kept its own interval.
    per_process = [ExplainPolicy(CONFIG.min_interval_seconds) for _ in range(2)]
    old = [s for s in range(10) if per_process[s % 2].decide("cam-1", T0 + timedelta(seconds=s), 0.9, now=100.0 + s)[0]]
    assert len(old) > 2


def test_the_streaming_graph_gates_fire_frames_by_a_camera_keyed_state():
    pipeline = beam.Pipeline()
    streaming_graph.build(
        pipeline, StreamingConfig(model="/m", project="p-test"), streaming_graph.ModelInfo("/m", "v1", 64, 0.5)
    )
    components = pipeline.to_runner_api().components
    [gate] = [
        t for t in components.transforms.values() if t.unique_name.endswith("GateExplanations/ParDo(GateExplanations)")
    ]
    [keyed] = gate.inputs.values()
    kv = components.coders[components.pcollections[keyed].coder_id]
    assert kv.spec.urn == "beam:coder:kv:v1"
    assert components.coders[kv.component_coder_ids[0]].spec.urn == "beam:coder:string_utf8:v1"
