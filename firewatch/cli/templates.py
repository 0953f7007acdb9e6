"""Dataflow flex-template metadata, generated from the jobs' pydantic configs.

`firewatch template metadata` rewrites `infra/flex_templates/<job>-metadata.json`; a test
checks that the committed files match the configs, so flags and template parameters can
never drift apart.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from firewatch.cli.template_params import enrich, local_only
from firewatch.config.options import _iter_fields, add_config_arguments, config_from_args, template_parameters
from infra.resources import INFRA_DIR

TEMPLATE_DIR = INFRA_DIR / "flex_templates"
DESCRIPTIONS = {
    "streaming": "Firewatch streaming: Pub/Sub frames -> RunInference -> BigQuery rows, fire alerts to Pub/Sub.",
    "batch": "Firewatch batch: images (GCS glob, TFRecords, BigQuery query) -> RunInference -> BigQuery or files.",
}


def job_config(job: str) -> type:
    if job == "streaming":
        from streaming.config import StreamingConfig

        return StreamingConfig
    if job == "batch":
        from batch.config import BatchConfig

        return BatchConfig
    raise ValueError(f"unknown job {job!r}; expected streaming or batch")


def metadata(job: str) -> dict[str, Any]:
    return {
        "name": f"firewatch-{job}",
        "description": DESCRIPTIONS[job],
        "streaming": job == "streaming",
        "supportsAtLeastOnce": job == "streaming",
        "parameters": parameters(job_config(job)),
    }


def parameters(model: type) -> list[dict[str, Any]]:
    """Every config field as a flex-template parameter, with its input type, checks and help
    (except the local-only ones, e.g. how long a local run waits on stop: Dataflow drains itself)."""
    fields = [field for _, field in _iter_fields(model)]
    pairs = zip(template_parameters(model), fields, strict=True)
    return [enrich(param, field) for param, field in pairs if not local_only(field)]


def render(job: str) -> str:
    return json.dumps(metadata(job), indent=2) + "\n"


class TemplateConfig(BaseModel):
    """`firewatch template`: where the metadata files go."""

    out: str = Field(str(TEMPLATE_DIR), description="folder for <job>-metadata.json")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("template", help="write the flex-template metadata files from the configs")
    add_config_arguments(parser, TemplateConfig)
    parser.set_defaults(func=_write)


def _write(args: argparse.Namespace) -> int:
    out = Path(config_from_args(TemplateConfig, args).out)
    out.mkdir(parents=True, exist_ok=True)
    for job in DESCRIPTIONS:
        path = out / f"{job}-metadata.json"
        path.write_text(render(job))
        print(f"wrote {path}")
    return 0
