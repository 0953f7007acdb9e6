"""Every parameter of both flex-template metadata files, passed the way the launcher passes it
(`--name=value`, booleans as the console's "true"/"false"), goes through the real `firewatch`
parser into the job's config with the value given; the files are valid
google.dataflow.v1beta3.TemplateMetadata and their regexes accept their own defaults."""

from __future__ import annotations

import json
import re

import pytest
from google.cloud.dataflow_v1beta3.types import TemplateMetadata

from firewatch.cli.dispatch import build_parser
from firewatch.cli.templates import TEMPLATE_DIR, job_config
from firewatch.config.options import BoolFlag, config_from_args, parse_bool

COMMAND = {"streaming": "stream", "batch": "batch"}
# Values for the parameters that have no default (each must match the parameter's regexes).
SAMPLES = {
    "model": "gs://my-models/fire/v3",
    "project": "my-project-1",
    "worker_accelerator": "type:nvidia-l4;count:1",
    "camera_id": "cam-7",
    "confirm_open_threshold": "0.6",
    "input": "gs://my-frames/2026-11-23/*.jpg",
    "output": "bigquery",
    "explanations_output": "gs://my-frames/overlays",
    "allowed_buckets": "my-project-firewatch-frames,my-frames",
    "max_batch_wait_seconds": "1.5",
    "write_buffer_seconds": "2",
    "model_registry": "gs://my-models/registry",
    "night_threshold": "0.8",
    "night_camera_thresholds": "cam-7=0.9,cam-8=0.85",
}
# Parameters given instead of another (the streaming config takes exactly one of the two): left out
# of the launcher's values unless a test gives them, which then leaves the other out.
INSTEAD_OF = {"model_registry": "model"}


def load(job: str) -> dict:
    return json.loads((TEMPLATE_DIR / f"{job}-metadata.json").read_text())


def flat_config(cfg) -> dict:
    """The config as {param name: value} (nested models flattened as prefix_field)."""
    out = {}

    def walk(data: dict, prefix: str) -> None:
        for key, value in data.items():
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}_")
            else:
                out[f"{prefix}{key}"] = value

    walk(cfg.model_dump(), "")
    return out


def as_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return str(value)


# Options that only make sense with other values: tfx-bsl scores TFRecords only, and cannot apply masks.
ENUM_NEEDS = {
    ("inference_engine", "tfx-bsl"): {"input": "gs://my-frames/tfrecords/test-*.tfrecord.gz", "masks_table": ""},
}


def launcher_values(params: list[dict], overrides: dict[str, str] | None = None) -> dict[str, str]:
    overrides = overrides or {}
    values = {}
    for param in params:
        value = param.get("defaultValue", SAMPLES.get(param["name"]))
        assert value is not None, f"add a sample value for {param['name']}"
        if param["name"] not in INSTEAD_OF:
            values[param["name"]] = value
    for name, other in INSTEAD_OF.items():
        if name in overrides:
            values.pop(other, None)
    return {**values, **overrides}


def test_a_registry_instead_of_a_model_reaches_the_config():
    params = load("streaming")["parameters"]
    values = launcher_values(params, {"model_registry": SAMPLES["model_registry"]})
    assert "model" not in values
    (regex,) = next(p for p in params if p["name"] == "model_registry")["regexes"]
    assert re.fullmatch(regex, values["model_registry"])
    assert_same(parse("streaming", values), values)


def parse(job: str, values: dict[str, str]):
    argv = [COMMAND[job], *(f"--{name}={value}" for name, value in values.items())]
    args, unknown = build_parser().parse_known_args(argv)
    assert unknown == [], f"not taken by the {job} parser: {unknown}"
    return config_from_args(job_config(job), args)


def assert_same(cfg, values: dict[str, str]) -> None:
    got = flat_config(cfg)
    for name, text in values.items():
        value = got[name]
        if isinstance(value, bool):
            assert value is parse_bool(text), name
        elif isinstance(value, int | float):
            assert float(value) == float(text), name
        else:
            assert as_text(value) == text, name


@pytest.mark.parametrize("job", ["streaming", "batch"])
def test_metadata_is_a_valid_dataflow_template_metadata(job):
    proto = TemplateMetadata.from_json((TEMPLATE_DIR / f"{job}-metadata.json").read_text())  # unknown keys raise
    assert proto.streaming is (job == "streaming")
    for param in proto.parameters:
        assert param.param_type.name != "DEFAULT", f"{param.name}: no paramType"
        assert param.help_text[:1].isupper() and param.help_text.endswith((".", ")")), param.name
        if param.param_type.name == "ENUM":
            assert [o.value for o in param.enum_options], param.name


@pytest.mark.parametrize("job", ["streaming", "batch"])
def test_every_parameter_in_launcher_form_reaches_the_config(job):
    params = load(job)["parameters"]
    values = launcher_values(params)
    for param in params:
        for regex in param.get("regexes", []):
            value = values.get(param["name"], SAMPLES.get(param["name"]))
            assert re.fullmatch(regex, value), f"{param['name']}={value} !~ {regex}"
    assert_same(parse(job, values), values)


@pytest.mark.parametrize("job", ["streaming", "batch"])
def test_booleans_and_enums_take_every_value_the_console_sends(job):
    params = load(job)["parameters"]
    booleans = [p["name"] for p in params if p["paramType"] == "BOOLEAN"]
    assert "explain" in booleans
    for text in ("true", "false", "True", "False"):
        values = launcher_values(params, dict.fromkeys(booleans, text))
        assert_same(parse(job, values), values)
    for param in (p for p in params if p["paramType"] == "ENUM"):
        for option in param["enumOptions"]:
            needs = ENUM_NEEDS.get((param["name"], option["value"]), {})
            values = launcher_values(params, {param["name"]: option["value"], **needs})
            assert_same(parse(job, values), values)


def test_every_boolean_flag_also_takes_the_bare_spellings():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["stream"]
    flags = [a for a in sub._actions if isinstance(a, BoolFlag)]
    assert {a.dest for a in flags} >= {"explain", "explanation_xrai"}
    for action in flags:
        dashed = "--" + action.dest.replace("_", "-")
        for argv, expected in (([dashed], True), ([f"--no-{dashed[2:]}"], False), ([f"{dashed}=false"], False)):
            args, unknown = parser.parse_known_args(["stream", "--model=m", *argv])
            assert unknown == [] and getattr(args, action.dest) is expected, argv


def test_a_bad_boolean_is_a_clear_error(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_known_args(["stream", "--model=m", "--explain=maybe"])
    assert "'maybe' is not a boolean; use true or false" in capsys.readouterr().err


@pytest.mark.parametrize("job", ["streaming", "batch"])
def test_every_regex_anchors_the_whole_value(job):
    # A console checks a value with search semantics (JavaScript's RegExp.test): `^a|b$` then means
    # "starts with a, or ends with b"; an alternation must be grouped inside the anchors.
    params = load(job)["parameters"]
    values = launcher_values(params)
    checked = 0
    for param in params:
        for regex in param.get("regexes", []):
            value = values.get(param["name"], SAMPLES.get(param["name"])) or "x"
            assert re.search(regex, value) or not value, (param["name"], regex)
            for wrong in (f"#{value}", f"{value}\n#"):  # ('.' stops at a newline: paths take any tail)
                assert not re.search(regex, wrong), (param["name"], regex, wrong)
            checked += 1
    assert checked > 20
    for param in (p for p in params if p["paramType"] == "ENUM"):
        (regex,) = param["regexes"]
        for option in param["enumOptions"]:
            assert re.search(regex, option["value"]) and not re.search(regex, option["value"] + "-and-more"), regex


@pytest.mark.parametrize("job", ["streaming", "batch"])
def test_parameters_documented_as_leave_empty_accept_empty_and_mean_the_default(job):
    params = load(job)["parameters"]
    empty = [p for p in params if "leave empty" in p["helpText"].lower() or "(empty:" in p["helpText"].lower()]
    assert {"project", "allowed_buckets", "explanations_output", "worker_accelerator"} <= {p["name"] for p in empty}
    blank = {p["name"]: "" for p in empty if "defaultValue" not in p}
    defaults = flat_config(parse(job, launcher_values(params, blank)))
    for param in empty:
        for regex in param.get("regexes", []):
            assert re.fullmatch(regex, ""), f"{param['name']}: help says leave empty, {regex} rejects it"
        if "defaultValue" not in param:  # no default: empty must mean "unset"
            assert not defaults[param["name"]], param["name"]


def test_local_only_fields_are_not_template_parameters():
    from streaming.config import StreamingConfig

    names = {p["name"] for p in load("streaming")["parameters"]}
    assert "drain_seconds" in StreamingConfig.model_fields and "drain_seconds" not in names
    assert "subscription" in names and "confirm_k" in names


def test_camera_id_parameter_takes_every_id_the_pipeline_accepts():
    from firewatch.core.contract import CAMERA_ID_PATTERN

    (regex,) = next(p for p in load("batch")["parameters"] if p["name"] == "camera_id")["regexes"]
    assert regex == CAMERA_ID_PATTERN.pattern
    for camera in ("site@north-7", "cam:01.a_b", "C" * 128):
        assert CAMERA_ID_PATTERN.match(camera) and re.fullmatch(regex, camera), camera
    assert not re.fullmatch(regex, "-starts-with-dash") and not re.fullmatch(regex, "")
