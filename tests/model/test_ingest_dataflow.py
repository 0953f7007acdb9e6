"""`firewatch data ingest` on Dataflow: the options it would submit, built offline from the same flags
as `firewatch stream` / `firewatch batch`, and checked by Beam's own Dataflow options validator."""

from __future__ import annotations

from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import GoogleCloudOptions, SetupOptions, StandardOptions, WorkerOptions
from apache_beam.options.pipeline_options_validator import PipelineOptionsValidator
from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner

from firewatch.cli.dispatch import build_parser
from model.cli import ingest_config
from model.data.ingest import pipeline_options

REPO = Path(__file__).resolve().parents[2]
DATAFLOW = ["--runner", "DataflowRunner", "--region", "europe-west1", "--temp_location", "gs://firewatch-tmp/tmp",
            "--max_num_workers", "8", "--worker_machine_type", "n2-standard-4"]  # fmt: skip


def dataflow_errors(options) -> list[str]:
    """Beam's own checks of Dataflow options (what DataflowRunner runs before submitting); dry_run
    keeps its bucket soft-delete lookup off the network."""
    from apache_beam.options.pipeline_options import TestOptions

    options.view_as(TestOptions).dry_run = True
    return PipelineOptionsValidator(options, DataflowRunner()).validate()


def _options(argv: list[str]):
    args, unknown = build_parser().parse_known_args(argv)
    args.beam_args = unknown  # what `firewatch.cli.dispatch.main` does for every Beam job
    return pipeline_options(ingest_config(args))


def test_ingest_takes_the_same_dataflow_flags_as_the_other_jobs(monkeypatch):
    monkeypatch.setenv("FIREWATCH_PROJECT", "p-env")
    options = _options(["data", "ingest", "--input", "gs://b/images", "--output", "gs://b/tfrecords", *DATAFLOW])
    assert options.view_as(StandardOptions).runner == "DataflowRunner"
    cloud = options.view_as(GoogleCloudOptions)
    assert (cloud.project, cloud.region, cloud.temp_location) == ("p-env", "europe-west1", "gs://firewatch-tmp/tmp")
    assert options.view_as(WorkerOptions).max_num_workers == 8
    assert options.view_as(WorkerOptions).machine_type == "n2-standard-4"
    assert options.view_as(SetupOptions).setup_file == str(REPO / "setup.py")  # workers get the packages
    assert dataflow_errors(options) == []

    from apache_beam.options.pipeline_options import PipelineOptions

    from batch.config import BatchConfig

    batch_args = BatchConfig(model="gs://b/m", input="gs://b/f", output="gs://b/o").pipeline_args(
        DATAFLOW, need_project=False
    )
    ingest_args = ingest_config(_parsed(["data", "ingest", "--input", "i", "--output", "o", *DATAFLOW])).pipeline_args()
    assert PipelineOptions(ingest_args).get_all_options(drop_default=True) == PipelineOptions(
        batch_args
    ).get_all_options(drop_default=True)  # the same flags give the batch job's Beam options


def _parsed(argv: list[str]):
    args, unknown = build_parser().parse_known_args(argv)
    args.beam_args = unknown
    return args


def test_explicit_project_and_beam_arg_spellings(monkeypatch):
    monkeypatch.delenv("FIREWATCH_PROJECT", raising=False)
    options = _options(["data", "ingest", "--input", "i", "--output", "o", "--project", "p-flag", "--runner",
                        "DataflowRunner", "--beam-arg=--temp_location=gs://b/t", "--region=us-central1"])  # fmt: skip
    cloud = options.view_as(GoogleCloudOptions)
    assert (cloud.project, cloud.region, cloud.temp_location) == ("p-flag", "us-central1", "gs://b/t")


def test_local_runs_need_no_project(monkeypatch):
    for var in ("FIREWATCH_PROJECT", "GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT"):
        monkeypatch.delenv(var, raising=False)
    options = _options(["data", "ingest", "--input", "i", "--output", "o"])
    assert options.view_as(StandardOptions).runner == "SwitchingDirectRunner"
    assert options.view_as(GoogleCloudOptions).project is None


def test_dataflow_option_errors_are_caught_before_submitting(monkeypatch):
    monkeypatch.setenv("FIREWATCH_PROJECT", "Not_A_Project")
    errors = dataflow_errors(_options(["data", "ingest", "--input", "i", "--output", "o", *DATAFLOW]))
    assert any("project" in e.lower() for e in errors), errors


@pytest.mark.parametrize("flag", ["--regoin=europe-west1", "--temp-locaton=gs://b/t"])
def test_misspelt_beam_flags_are_refused(flag, capsys):
    from firewatch.cli import main

    with pytest.raises(SystemExit):
        main(["data", "ingest", "--input", "i", "--output", "o", flag])
    assert f"unknown flag {flag.split('=')[0]}" in capsys.readouterr().err
