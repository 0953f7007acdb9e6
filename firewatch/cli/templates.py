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

from firewatch.cli.template_params import enrich, local_only
from firewatch.config.options import _iter_fields, template_parameters
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


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("template", help="write the flex-template metadata files from the configs")
    parser.add_argument("--out", default=str(TEMPLATE_DIR), help="folder for <job>-metadata.json")
    parser.set_defaults(func=_write)


def _write(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for job in DESCRIPTIONS:
        path = out / f"{job}-metadata.json"
        path.write_text(render(job))
        print(f"wrote {path}")
    return 0
