"""The streaming and batch graphs build from their configs (fast: nothing runs)."""

import apache_beam as beam
import pytest

from batch import pipeline as batch_graph
from batch.config import BatchConfig
from firewatch.beam.scoring import ModelInfo
from streaming import pipeline as streaming_graph
from streaming.config import StreamingConfig

INFO = ModelInfo("/models/m", "v1", 128, 0.5)


def labels(pipeline):
    found = []

    class Visitor(beam.pipeline.PipelineVisitor):
        def enter_composite_transform(self, node):
            found.append(node.full_label)

        def visit_transform(self, node):
            found.append(node.full_label)

    pipeline.visit(Visitor())
    return found


@pytest.mark.parametrize("explain", [True, False])
def test_streaming_graph_has_every_branch(explain):
    pipeline = beam.Pipeline()
    cfg = StreamingConfig(model="/models/m", project="p-test", explain=explain)
    streaming_graph.build(pipeline, cfg, INFO)
    names = labels(pipeline)
    for step in (
        "ReadFrames",
        "Validate",
        "Score/Infer",
        "Write/Write_predictions",
        "Alerts/Confirm",
        "Write/PublishAlerts",
        "Write/Write_alerts",
        "Write/Write_dead_letters",
        "Write/PublishDeadLetters",
    ):
        assert any(n.startswith(step) for n in names), step
    assert any(n.startswith("Write/Write_explanations") for n in names) is explain


def test_batch_graph_builds_for_files_and_bigquery(tmp_path):
    for output in (str(tmp_path), "bigquery"):
        pipeline = beam.Pipeline()
        batch_graph.build(pipeline, BatchConfig(model="/m", input=str(tmp_path), output=output, project="p-test"), INFO)
        names = labels(pipeline)
        assert any(n.startswith("Write/Write_predictions") for n in names)
        assert any(n.startswith("Write/Write_explanations") for n in names)
