"""How each job parameter is presented in Dataflow flex-template metadata.

`firewatch.config.options.template_parameters` lists the config fields (name, optional, default);
this module adds what the console needs to render and check them: `paramType` (the input
picker: Pub/Sub, Cloud Storage, BOOLEAN, ENUM, NUMBER, TEXT), `regexes` the launcher checks
before starting a job, `enumOptions`, and help text a person understands. Field names follow
google.dataflow.v1beta3.ParameterMetadata (a test validates the files with that type).
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic.fields import FieldInfo

from firewatch.config.options import _base_type
from firewatch.core.contract import CAMERA_ID_PATTERN

GCS_URI = r"gs://[a-z0-9][-_.a-z0-9]{1,220}(/.*)?"
BUCKET = r"[a-z0-9][-_.a-z0-9]{1,61}[a-z0-9]"
PUBSUB_NAME = r"[a-zA-Z][-._~%+a-zA-Z0-9]{2,254}"
PROJECT = r"[a-z][-a-z0-9:.]{4,61}[a-z0-9]"
INT = r"[0-9]+"
FLOAT = r"[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?"
BOOL = r"(true|false|True|False)"


def _full(pattern: str) -> str:
    """The whole value matches `pattern`: grouped, so `a|b` is `^(a|b)$`, never `^a|b$`."""
    return f"^({pattern})$"


def _or_empty(regex: str) -> str:
    """`regex` (a `^...$` one), or the empty value: for parameters whose help says "leave empty"."""
    return f"^(|{regex[1:-1]})$"


def _path_or_name(kind: str) -> str:
    return _full(f"(projects/{PROJECT}/{kind}/)?{PUBSUB_NAME}")


# paramType and regex by parameter name, where the Python type alone does not say it.
SPECIAL: dict[str, tuple[str, str]] = {
    "model": ("GCS_READ_FOLDER", _full(GCS_URI)),
    "model_registry": ("GCS_READ_FOLDER", _full(GCS_URI)),
    "subscription": ("PUBSUB_SUBSCRIPTION", _path_or_name("subscriptions")),
    "alerts_topic": ("PUBSUB_TOPIC", _path_or_name("topics")),
    "dead_letter_topic": ("PUBSUB_TOPIC", _path_or_name("topics")),
    "explanations_output": ("GCS_WRITE_FOLDER", _full(GCS_URI)),
    "project": ("TEXT", _full(PROJECT)),
    "dataset": ("TEXT", _full(r"[A-Za-z0-9_]{1,1024}")),
    "allowed_buckets": ("TEXT", _full(f"{BUCKET}(,{BUCKET})*")),
    "worker_accelerator": ("TEXT", _full(r"type:[a-z0-9-]+;count:[1-9][0-9]*")),
    "input": ("TEXT", _full(r"(gs://|tfrecord:gs://|bq:).+")),
    "output": ("TEXT", _full(f"bigquery|{GCS_URI}")),
    "camera_id": ("TEXT", CAMERA_ID_PATTERN.pattern),  # the one the pipeline checks ids with
}
for _table in ("predictions_table", "dead_letters_table", "explanations_table", "alerts_table"):
    SPECIAL[_table] = ("TEXT", _full(r"[-_A-Za-z0-9]{1,1024}"))

# Help for the console, where a config's one-line flag description is too terse.
HELP: dict[str, str] = {
    "model": "Cloud Storage folder of the exported Firewatch model (the folder holding firewatch_model.json), "
    "e.g. gs://my-project-firewatch-models/v3.",
    "model_registry": "Cloud Storage folder of a Firewatch model registry (firewatch model register), e.g. "
    "gs://my-project-firewatch-models/registry: the job scores with the version its `current` pointer names "
    "and follows `firewatch model promote` and `rollback` without a restart. Give this or Model, not both.",
    "project": "Google Cloud project holding the BigQuery dataset and Pub/Sub resources. "
    "Leave empty to use the project the job runs in.",
    "allowed_buckets": "Cloud Storage buckets that frames may reference as gs:// URIs, comma-separated "
    "(e.g. my-project-firewatch-frames). A frame pointing at any other bucket becomes a dead letter. "
    "Leave empty for the project's frames bucket, <project>-firewatch-frames.",
    "explanations_output": "Cloud Storage folder where explanation overlay PNGs are written, "
    "e.g. gs://my-project-firewatch-frames/explanations. "
    "Leave empty for gs://<project>-firewatch-frames/explanations.",
    "worker_accelerator": "GPU for each worker, as type:TYPE;count:N, e.g. type:nvidia-l4;count:1. "
    "An L4 needs a G2 machine type (e.g. g2-standard-4) and the GPU image; leave empty for CPU workers.",
    "subscription": "Pub/Sub subscription the camera frames arrive on: a name in the job's project "
    "or projects/PROJECT/subscriptions/NAME.",
    "alerts_topic": "Pub/Sub topic that receives confirmed fire alerts (open, update, close): "
    "a name or projects/PROJECT/topics/NAME.",
    "dead_letter_topic": "Pub/Sub topic that also receives every rejected frame, with the reason, ready to replay. "
    "Leave empty to write dead letters to the BigQuery table only.",
    "input": "What to score: a gs:// folder or glob of images, TFRecord files (gs://.../*.tfrecord, or "
    "tfrecord:PATTERN), or bq:SELECT ... returning a uri column.",
    "output": "Where rows go: bigquery (the dataset's tables) or a gs:// folder for JSONL or Parquet files.",
    "explain": "Compute Integrated Gradients + XRAI explanations for fire frames (slower; off for throughput).",
    "max_object_bytes": "Largest image file or object read, in bytes; larger ones become dead letters.",
    "max_message_bytes": "Largest Pub/Sub message accepted, in bytes; larger ones become dead letters.",
    "max_pixels": "Largest image decoded, in pixels (width x height); larger ones become dead letters.",
    "confirm_k": "Fire frames needed among a camera's last N frames (see Confirm n) to open an alert.",
    "confirm_n": "How many recent frames of a camera the alert rule looks at.",
    "confirm_max_frame_uris": "Most frame URIs listed in one alert event.",
    "explanation_top_k_regions": "How many of the most salient XRAI regions each explanation reports.",
}

LABELS: dict[str, str] = {
    "confirm_k": "Confirm: fire frames needed (k)",
    "confirm_n": "Confirm: window length in frames (n)",
    "max_batch_size": "Largest inference batch",
    "worker_accelerator": "Worker GPU",
}


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", ")")) else text + "."


def local_only(field: FieldInfo) -> bool:
    """Whether a config field only means something when the job runs locally (not a template parameter)."""
    extra = field.json_schema_extra
    return isinstance(extra, dict) and extra.get("local_only") is True


def leave_empty(param: dict[str, Any]) -> bool:
    """Whether the parameter's help tells the user that an empty value is allowed (and what it means)."""
    text = param["helpText"].lower()
    return "leave empty" in text or "(empty:" in text


def enrich(param: dict[str, Any], field: FieldInfo) -> dict[str, Any]:
    """Add paramType, regexes, enumOptions and human help to one `template_parameters` entry."""
    name = param["name"]
    scalar, is_list = _base_type(field.annotation)
    annotation = field.annotation
    literal = typing.get_origin(annotation) is typing.Literal
    out = dict(param)
    if name in LABELS:
        out["label"] = LABELS[name]
    help_text = _sentence(HELP.get(name) or field.description or name.replace("_", " "))
    if is_list and "comma-separated" not in help_text:
        help_text = help_text[:-1] + " (comma-separated)."
    out["helpText"] = help_text
    if name in SPECIAL:
        out["paramType"], regex = SPECIAL[name]
        out["regexes"] = [regex]
    elif scalar is bool:
        out["paramType"] = "BOOLEAN"
        out["regexes"] = [_full(BOOL)]
    elif literal:
        options = [str(v) for v in typing.get_args(annotation)]
        out["paramType"] = "ENUM"
        out["enumOptions"] = [{"value": v, "label": v} for v in options]
        out["regexes"] = [_full("|".join(options))]
    elif is_list and typing.get_origin(scalar) is typing.Literal:
        options = [str(v) for v in typing.get_args(scalar)]
        out["paramType"] = "TEXT"
        out["regexes"] = [_full(f"({'|'.join(options)})(,({'|'.join(options)}))*")]
    elif is_list and scalar in (int, float):
        number = INT if scalar is int else FLOAT
        out["paramType"] = "TEXT"
        out["regexes"] = [_full(f"{number}(,{number})*")]
    elif scalar is int:
        out["paramType"] = "NUMBER"
        out["regexes"] = [_full(INT)]
    elif scalar is float:
        out["paramType"] = "NUMBER"
        out["regexes"] = [_full(FLOAT)]
    else:
        out["paramType"] = "TEXT"
    if leave_empty(out) and "regexes" in out:
        out["regexes"] = [_or_empty(regex) for regex in out.get("regexes", [])]
    return out
