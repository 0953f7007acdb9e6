"""Job configs map 1:1 to CLI flags and flex-template parameters, with clear errors."""

import argparse

import pytest

from firewatch.config.options import add_config_arguments, config_from_args, template_parameters
from firewatch.errors import ConfigError
from streaming.config import StreamingConfig


def parse(argv):
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, StreamingConfig)
    return config_from_args(StreamingConfig, parser.parse_args(argv))


def test_flags_cover_nested_fields_and_defaults_apply():
    cfg = parse(["--model", "m", "--confirm-k", "2", "--allowed-buckets", "a", "b", "--no-explain"])
    assert cfg.model == "m" and cfg.confirm.k == 2 and cfg.confirm.n == 5
    assert cfg.allowed_buckets == ("a", "b") and cfg.explain is False
    assert cfg.subscription == "frames-sub"


def test_invalid_values_name_the_flag():
    with pytest.raises(ConfigError, match="--confirm.*cannot exceed") as info:
        parse(["--model", "m", "--confirm-k", "9"])
    assert "StreamingConfig" in str(info.value)
    with pytest.raises(ConfigError, match="--max-batch-size"):
        parse(["--model", "m", "--max-batch-size", "0"])


def test_template_parameters_match_the_flags_one_to_one():
    names = [p["name"] for p in template_parameters(StreamingConfig)]
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, StreamingConfig)
    dests = [a.dest for a in parser._actions if a.dest != "help"]
    assert names == dests
    assert {"model", "confirm_k", "confirm_clear_seconds", "allowed_buckets"} <= set(names)
    required = [p["name"] for p in template_parameters(StreamingConfig) if not p["isOptional"]]
    assert required == []  # --model or --model-registry: exactly one, checked by the config
    assert {"model", "model_registry", "model_refresh_seconds"} <= set(names)


def test_streaming_takes_exactly_one_of_model_and_registry():
    assert parse(["--model-registry", "gs://b/registry"]).model_registry == "gs://b/registry"
    for flags in ([], ["--model", "m", "--model-registry", "r"]):
        with pytest.raises(ConfigError, match="exactly one of --model"):
            parse(flags)


def test_flex_template_spelling_and_comma_lists():
    cfg = parse(["--model=gs://b/m", "--confirm_k=2", "--allowed_buckets=a,b", "--max_batch_size=8"])
    assert (cfg.model, cfg.confirm.k, cfg.allowed_buckets, cfg.max_batch_size) == ("gs://b/m", 2, ("a", "b"), 8)


def test_worker_accelerator_becomes_dataflow_gpu_options():
    from apache_beam.options.pipeline_options import DebugOptions, GoogleCloudOptions

    from streaming.runner import pipeline_options

    cfg = parse(["--model", "m", "--project", "p-test", "--worker-accelerator", "type:nvidia-l4;count:1"])
    options = pipeline_options(["--runner=DataflowRunner"], cfg)
    assert options.view_as(GoogleCloudOptions).dataflow_service_options == [
        "worker_accelerator=type:nvidia-l4;count:1;install-nvidia-driver"
    ]
    assert "no_use_multiple_sdk_containers" in options.view_as(DebugOptions).experiments
    assert parse(["--model", "m"]).accelerator_args() == []


def test_the_config_project_is_beams_project_too():
    from apache_beam.options.pipeline_options import GoogleCloudOptions

    from batch.config import BatchConfig
    from streaming.runner import pipeline_options

    options = pipeline_options([], parse(["--model", "m", "--project", "p-one"]))
    assert options.view_as(GoogleCloudOptions).project == "p-one"
    batch = BatchConfig(model="m", input="i", output="out", project="p-two")
    assert "--project=p-two" in batch.pipeline_args(["--runner=DataflowRunner"], need_project=False)
    assert BatchConfig(model="m", input="i", output="out").pipeline_args([], need_project=False) == []


def test_bucket_defaults_come_from_the_project_never_a_fixed_bucket(monkeypatch):
    from batch.config import BatchConfig

    monkeypatch.delenv("FIREWATCH_FRAMES_BUCKET", raising=False)
    cfg = parse(["--model", "m", "--project", "p-one"])
    assert cfg.limits().allowed_buckets == ("p-one-firewatch-frames",)
    assert cfg.overlay_prefix() == "gs://p-one-firewatch-frames/explanations"
    batch = BatchConfig(model="m", input="i", output="bigquery", project="p-two")
    assert batch.overlay_prefix() == "gs://p-two-firewatch-frames/explanations"
    monkeypatch.setenv("FIREWATCH_FRAMES_BUCKET", "stack-bucket")  # what the local stack sets
    assert parse(["--model", "m", "--project", "p-one"]).limits().allowed_buckets == ("stack-bucket",)
    explicit = parse(["--model", "m", "--allowed-buckets", "a", "--explanations-output", "gs://a/x"])
    assert explicit.limits().allowed_buckets == ("a",) and explicit.overlay_prefix() == "gs://a/x"


def test_a_registry_without_current_is_a_clear_error(tmp_path):
    from firewatch.errors import UserError

    cfg = parse(["--model-registry", str(tmp_path)])
    with pytest.raises(UserError, match=r"has no `current`: run `firewatch model promote"):
        cfg.model_dir()
