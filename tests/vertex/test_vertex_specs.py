"""Vertex AI job specs, built offline with aiplatform's own types and checked field by field."""

from __future__ import annotations

import csv
import json

import pytest
from google.cloud.aiplatform_v1.types import (
    AcceleratorType,
    CustomJob,
    HyperparameterTuningJob,
    StudySpec,
    TrainingPipeline,
)

from firewatch.cli import main
from model.training.train import TUNING_METRIC
from tuning.space import SEARCH_SPACE
from vertex import jobs
from vertex.config import VertexAutoMLConfig, VertexTrainConfig, VertexTuneConfig

COMMON = {"project": "p1", "region": "europe-west4", "image": "europe-docker.pkg.dev/p1/fw/firewatch:gpu"}


def test_custom_job_runs_firewatch_train_on_a_multi_gpu_worker():
    config = VertexTrainConfig(
        **COMMON, data="gs://b/tfrecords", output="gs://b/models/m1", train_args=["--epochs=8"], service_account="sa@x"
    )
    job = jobs.custom_job(config)
    assert isinstance(job, CustomJob) and job.display_name == "firewatch-train"
    (pool,) = job.job_spec.worker_pool_specs
    assert pool.replica_count == 1
    assert pool.machine_spec.machine_type == "g2-standard-24"
    assert pool.machine_spec.accelerator_type == AcceleratorType.NVIDIA_L4
    assert pool.machine_spec.accelerator_count == 2  # > 1 GPU: model.training.train uses MirroredStrategy
    assert pool.container_spec.image_uri == COMMON["image"]
    assert list(pool.container_spec.command) == ["firewatch"]
    assert list(pool.container_spec.args) == [
        "train",
        "--data=gs://b/tfrecords",
        "--output=gs://b/models/m1",
        "--epochs=8",
    ]
    assert job.job_spec.base_output_directory.output_uri_prefix == "gs://b/models/m1.vertex"
    assert job.job_spec.service_account == "sa@x"
    # the printed spec is the REST body: it round-trips
    assert CustomJob.from_json(jobs.to_json(job)) == job


def test_container_args_are_accepted_by_firewatch_train():
    from firewatch.cli.dispatch import build_parser
    from model.cli import train_values

    config = VertexTrainConfig(**COMMON, data="gs://b/d", output="gs://b/m", train_args=["--learning_rate=0.001"])
    args = build_parser().parse_args(list(jobs.custom_job(config).job_spec.worker_pool_specs[0].container_spec.args))
    values = train_values(args)
    assert values["data"] == "gs://b/d" and values["output"] == "gs://b/m" and values["learning_rate"] == 0.001


def test_tuning_job_searches_the_same_space_and_maximises_the_reported_metric():
    job = jobs.tuning_job(VertexTuneConfig(**COMMON, data="gs://b/tfrecords", output="gs://b/tune", max_trials=12))
    assert isinstance(job, HyperparameterTuningJob)
    assert job.max_trial_count == 12 and job.parallel_trial_count == 2
    (metric,) = job.study_spec.metrics
    assert metric.metric_id == TUNING_METRIC and metric.goal == StudySpec.MetricSpec.GoalType.MAXIMIZE
    params = {p.parameter_id: p for p in job.study_spec.parameters}
    top_level = {p.name for p in SEARCH_SPACE if p.only_for is None}
    assert set(params) == top_level
    lr = params["learning_rate"]
    assert (lr.double_value_spec.min_value, lr.double_value_spec.max_value) == (3e-4, 1e-2)
    assert lr.scale_type == StudySpec.ParameterSpec.ScaleType.UNIT_LOG_SCALE
    assert list(params["image_size"].categorical_value_spec.values) == ["96", "128", "160"]
    assert list(params["backbone"].categorical_value_spec.values) == ["small_cnn", "mobilenet_v2"]
    (conditional,) = params["backbone"].conditional_parameter_specs
    assert conditional.parameter_spec.parameter_id == "fine_tune_from_block"
    assert list(conditional.parent_categorical_values.values) == ["mobilenet_v2"]
    ints = conditional.parameter_spec.integer_value_spec
    assert (ints.min_value, ints.max_value) == (10, 18)
    (pool,) = job.trial_job_spec.worker_pool_specs
    assert list(pool.container_spec.args)[:3] == ["train", "--data=gs://b/tfrecords", "--report-hypertune"]
    assert not any(a.startswith("--output") for a in pool.container_spec.args)  # $AIP_MODEL_DIR per trial
    assert job.trial_job_spec.base_output_directory.output_uri_prefix == "gs://b/tune"
    assert HyperparameterTuningJob.from_json(jobs.to_json(job)) == job


def test_tuning_job_limited_to_small_cnn_drops_the_mobilenet_only_parameter():
    job = jobs.tuning_job(VertexTuneConfig(**COMMON, data="gs://b/d", output="gs://b/t", backbones=["small_cnn"]))
    params = {p.parameter_id: p for p in job.study_spec.parameters}
    assert list(params["backbone"].categorical_value_spec.values) == ["small_cnn"]
    assert not params["backbone"].conditional_parameter_specs


def test_trial_hyperparameters_parse_as_train_flags(monkeypatch):
    """Vertex AI appends --<parameter_id>=<value> to the trial's args; train must take every one."""
    from firewatch.cli.dispatch import build_parser
    from model.cli import build_config, train_values
    from model.config import TrainConfig

    monkeypatch.setenv("AIP_MODEL_DIR", "gs://b/tune/3/model")
    job = jobs.tuning_job(VertexTuneConfig(**COMMON, data="gs://b/d", output="gs://b/tune"))
    args = list(job.trial_job_spec.worker_pool_specs[0].container_spec.args) + [
        "--backbone=mobilenet_v2", "--learning_rate=0.0012", "--dropout=0.3", "--image_size=160",
        "--augment_strength=0.7", "--fine_tune_from_block=12",
    ]  # fmt: skip
    config = build_config(TrainConfig, train_values(build_parser().parse_args(args)))
    assert config.output == "gs://b/tune/3/model" and config.report_hypertune
    assert (config.backbone, config.image_size, config.fine_tune_from_block) == ("mobilenet_v2", 160, 12)
    assert (config.learning_rate, config.dropout, config.augment_strength) == (0.0012, 0.3, 0.7)


def test_automl_import_file_keeps_the_ingest_split():
    rows = [
        ("train", "/data/images/fire/a.jpg", "fire"),
        ("valid", "/data/images/no_fire/b.jpg", "no_fire"),
        ("test", "/data/images/fire/c.png", "fire"),
    ]
    text = jobs.import_csv("/data/images", rows, "gs://b/images")
    assert list(csv.reader(text.splitlines())) == [
        ["training", "gs://b/images/fire/a.jpg", "fire"],
        ["validation", "gs://b/images/no_fire/b.jpg", "no_fire"],
        ["test", "gs://b/images/fire/c.png", "fire"],
    ]
    assert (
        jobs.import_csv("gs://in", [("train", "gs://in/fire/a.jpg", "fire")], None)
        == "training,gs://in/fire/a.jpg,fire\n"
    )
    with pytest.raises(ValueError, match="--images-uri"):
        jobs.import_csv("/data/images", rows, None)


def test_automl_specs():
    from google.cloud.aiplatform import schema

    config = VertexAutoMLConfig(
        project="p1", data="d", import_file_uri="gs://b/import.csv", budget_milli_node_hours=9000
    )
    dataset, import_config, pipeline = jobs.automl_specs(config, dataset_id="123")
    assert dataset.metadata_schema_uri == schema.dataset.metadata.image
    assert list(import_config.gcs_source.uris) == ["gs://b/import.csv"]
    assert import_config.import_schema_uri == schema.dataset.ioformat.image.single_label_classification
    assert isinstance(pipeline, TrainingPipeline)
    assert pipeline.training_task_definition == schema.training_job.definition.automl_image_classification
    inputs = json.loads(jobs.to_json(pipeline))["trainingTaskInputs"]
    assert inputs == {"modelType": "CLOUD", "budgetMilliNodeHours": 9000, "multiLabel": False}
    split = pipeline.input_data_config.filter_split
    assert pipeline.input_data_config.dataset_id == "123"
    assert split.training_filter == "labels.aiplatform.googleapis.com/ml_use=training"
    assert split.validation_filter == "labels.aiplatform.googleapis.com/ml_use=validation"
    assert split.test_filter == "labels.aiplatform.googleapis.com/ml_use=test"


def test_cli_prints_the_spec_and_submits_nothing(capsys, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("a dry run must not submit")

    monkeypatch.setattr(jobs, "submit_custom_job", refuse)
    argv = ["vertex", "train", "--project", "p1", "--image", "img:1", "--data", "gs://b/d", "--output", "gs://b/m",
            "--accelerator-count", "4", "--train-arg=--epochs=3", "--dry-run"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    spec = json.loads(out[: out.rindex("}") + 1])
    pool = spec["jobSpec"]["workerPoolSpecs"][0]
    assert pool["machineSpec"] == {
        "machineType": "g2-standard-24",
        "acceleratorType": "NVIDIA_L4",
        "acceleratorCount": 4,
    }
    assert pool["containerSpec"]["args"] == ["train", "--data=gs://b/d", "--output=gs://b/m", "--epochs=3"]
    assert "nothing submitted" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["vertex", "train", "--project", "p", "--image", "i", "--data", "/local", "--output", "gs://b/m"], "gs://"),
        (
            [
                "vertex",
                "train",
                "--project",
                "p",
                "--image",
                "i",
                "--data",
                "gs://b/d",
                "--output",
                "gs://b/m",
                "--accelerator-type",
                "GTX_1080",
            ],
            "unknown accelerator",
        ),  # fmt: skip
        (
            [
                "vertex",
                "tune",
                "--project",
                "p",
                "--image",
                "i",
                "--data",
                "gs://b/d",
                "--output",
                "gs://b/t",
                "--backbones",
                "resnet",
            ],
            "not in the search space",
        ),  # fmt: skip
        (
            [
                "vertex",
                "train",
                "--project",
                "p",
                "--image",
                "i",
                "--data",
                "gs://b/d",
                "--output",
                "gs://b/m",
                "--submit",
                "--dry-run",
            ],
            "exclude each other",
        ),  # fmt: skip
    ],
)
def test_cli_says_what_is_wrong(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_cli_automl_writes_the_import_file_from_the_ingest_output(demo_tfrecords_dir, tmp_path, capsys):
    target = tmp_path / "import.csv"
    argv = ["vertex", "automl", "--project", "p1", "--data", str(demo_tfrecords_dir), "--images-uri", "gs://b/img",
            "--import-file-uri", "gs://b/import.csv", "--import-file", str(target)]  # fmt: skip
    assert main(argv) == 0
    rows = list(csv.reader(target.read_text().splitlines()))
    summary = json.loads((demo_tfrecords_dir / "ingest_summary.json").read_text())
    counts = {use: sum(1 for r in rows if r[0] == use) for use in ("training", "validation", "test")}
    assert counts == {
        "training": summary["splits"]["train"]["total"],
        "validation": summary["splits"]["valid"]["total"],
        "test": summary["splits"]["test"]["total"],
    }
    assert all(r[1].startswith("gs://b/img/") and r[2] in ("fire", "no_fire") for r in rows)
    assert all(r[1].startswith(f"gs://b/img/{r[2]}/") for r in rows)  # the label folder matches the label
    assert "DATASET_ID" in capsys.readouterr().out
