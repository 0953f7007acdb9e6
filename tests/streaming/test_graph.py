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


def dataflow_pipeline() -> beam.Pipeline:
    """A graph built for Dataflow (`--runner=DataflowRunner`, what the job reads), held by a local
    runner object so that building it needs no credentials (nothing is submitted or run)."""
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.direct.direct_runner import BundleBasedDirectRunner

    options = PipelineOptions(["--runner=DataflowRunner", "--streaming"])
    return beam.Pipeline(runner=BundleBasedDirectRunner(), options=options)


def test_on_dataflow_inference_and_writes_batch_across_bundles():
    """Dataflow streaming bundles hold about one frame: RunInference waits for a batch
    (max_batch_duration_secs, item 8) and every table's rows are grouped across bundles by a
    sharded key in their own stage (GroupIntoBatches, item 6)."""
    pipeline = dataflow_pipeline()
    streaming_graph.build(pipeline, StreamingConfig(model="/models/m", project="p-test"), INFO)
    names = labels(pipeline)
    assert any("Score/Infer" in n and "_StatefulBatchElementsDoFn" in n for n in names), names
    for table in ("predictions", "alerts", "explanations"):
        assert f"Write/Write_{table}/ShardByRowId" in names
        assert f"Write/Write_{table}/BatchAcrossBundles" in names
        assert f"Write/Write_{table}/InsertBatches" in names
    # dead letters (few; some made by the batched writes' timers) are written per bundle, ungrouped
    assert "Write/Write_dead_letters/InsertRows" in names


def test_on_the_local_runner_both_wait_for_nothing_unless_asked():
    """Locally a processing-time timer fires only after the blocking pull (shared notes): off."""
    pipeline = beam.Pipeline()
    streaming_graph.build(pipeline, StreamingConfig(model="/models/m", project="p-test"), INFO)
    names = labels(pipeline)
    assert not any("_StatefulBatchElementsDoFn" in n for n in names)
    assert not any("BatchAcrossBundles" in n for n in names)
    assert "Write/Write_predictions/InsertRows" in names

    pipeline = beam.Pipeline()
    cfg = StreamingConfig(model="/models/m", project="p-test", write_buffer_seconds=3, max_batch_wait_seconds=0.5)
    streaming_graph.build(pipeline, cfg, INFO)
    names = labels(pipeline)
    assert any("_StatefulBatchElementsDoFn" in n for n in names)
    assert "Write/Write_predictions/BatchAcrossBundles" in names


def test_the_flags_reach_the_model_handler_and_the_sink():
    from firewatch.beam.model_handler import FirewatchModelHandler
    from firewatch.config.options import config_from_mapping

    cfg = config_from_mapping(
        StreamingConfig,
        {
            "model": "/m",
            "project": "p",
            "max_batch_wait_seconds": "0.25",
            "write_buffer_seconds": "4",
            "write_batch_rows": "200",
        },
    )
    handler = FirewatchModelHandler("/m", max_batch_duration_secs=cfg.batch_wait_seconds(local=False))
    assert handler.batch_elements_kwargs()["max_batch_duration_secs"] == 0.25
    assert "max_batch_duration_secs" not in FirewatchModelHandler("/m").batch_elements_kwargs()
    to = streaming_graph.destinations(cfg, local=False)
    assert (to.write_batch_rows, to.write_buffer_seconds) == (200, 4.0)
    defaults = StreamingConfig(model="/m", project="p")
    assert (defaults.batch_wait_seconds(local=False), defaults.write_buffer(local=False)) == (1.0, 2.0)
    assert (defaults.batch_wait_seconds(local=True), defaults.write_buffer(local=True)) == (0.0, 0.0)


def test_a_registry_job_builds_the_same_graph_and_starts_on_current(tmp_path):
    """--model-registry changes which model the handler serves, not the graph (so a Dataflow
    `--update` between the two is possible, and a swap touches no keyed state); the model folder the
    job starts with is the version `current` names."""
    from firewatch.cloud.registry import write_pointer

    registry = str(tmp_path / "registry")
    write_pointer(registry, "current", "v7")
    fixed, following = dataflow_pipeline(), dataflow_pipeline()
    streaming_graph.build(fixed, StreamingConfig(model="/models/m", project="p-test"), INFO)
    cfg = StreamingConfig(model_registry=registry, project="p-test", shadow_share=0)
    streaming_graph.build(following, cfg, INFO)
    assert labels(fixed) == labels(following)
    assert cfg.model_dir() == f"{registry}/v7"


def test_shadow_scoring_adds_its_own_branch_and_table_only(tmp_path):
    """With --model-registry (and the default --shadow-share), the graph is the fixed job's plus the
    shadow branch off the inference results and its table's writer; on Dataflow the branch is its own
    stage. Setting or clearing `shadow` later changes nothing in the graph."""
    fixed, shadowed = dataflow_pipeline(), dataflow_pipeline()
    streaming_graph.build(fixed, StreamingConfig(model="/models/m", project="p-test"), INFO)
    cfg = StreamingConfig(model_registry=str(tmp_path / "registry"), project="p-test")
    assert cfg.shadow_share == 0.1 and cfg.shadow_scoring()
    streaming_graph.build(shadowed, cfg, INFO)
    before, after = labels(fixed), labels(shadowed)
    added = [name for name in after if name not in before]
    assert [name for name in after if name in before] == before
    assert {name.split("/")[0] + "/" + name.split("/")[1] for name in added if name.startswith("Write/")} == {
        "Write/Write_shadow_predictions"
    }
    assert {name.split("/")[0] for name in added} == {"Shadow", "Write"}
    for step in ("Shadow/SelectForShadow", "Shadow/ShadowStage", "Shadow/ShadowInfer", "Shadow/ShadowRows"):
        assert step in added, step
    to = streaming_graph.destinations(cfg, local=False)
    assert to.tables["shadow_predictions"] == "p-test.firewatch.shadow_predictions"
    assert "shadow_predictions" not in streaming_graph.destinations(StreamingConfig(model="/m", project="p")).tables


@pytest.mark.parametrize("enabled", [True, False])
def test_camera_health_branch_and_table_follow_the_health_flag(enabled):
    from firewatch.config.options import config_from_mapping

    cfg = config_from_mapping(StreamingConfig, {"model": "/m", "project": "p-test", "health_enabled": enabled})
    pipeline = beam.Pipeline()
    streaming_graph.build(pipeline, cfg, INFO)
    names = labels(pipeline)
    assert ("CameraHealth/Judge" in names) is enabled
    assert ("Write/Write_camera_health" in names) is enabled
    assert ("Write/HealthMessages" in names) is enabled
    # preflight checks the destinations' tables: no camera_health table needed when health is off
    assert ("camera_health" in streaming_graph.destinations(cfg).tables) is enabled
