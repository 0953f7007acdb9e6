"""`firewatch stack up|status|down` and `firewatch infra apply|destroy|show`.

`stack` manages the local emulators (infra.stack); `infra` creates or deletes the declared
resources (infra.resources) on whatever the environment points at: the emulators when
`.firewatch/stack.env` is loaded, else the real project given by --project / gcloud config.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from firewatch.config.options import add_config_arguments, config_from_mapping
from firewatch.errors import UserError
from infra.resources import check_project_id
from infra.stack import DEFAULT_BUCKET, DEFAULT_PROJECT


class StackConfig(BaseModel):
    """Options of `firewatch stack up|status|down`."""

    model_config = ConfigDict(extra="forbid")

    project: str = Field(DEFAULT_PROJECT, description="Project id the emulators serve.")
    bucket: str = Field(DEFAULT_BUCKET, description="Bucket the GCS emulator creates at start.")
    state_dir: str | None = Field(None, description="State dir (default: $FIREWATCH_STATE_DIR or .firewatch).")
    timeout: float = Field(90.0, gt=0, description="Seconds to wait for the health checks.")
    purge: bool = Field(False, description="stack down: also delete the emulators' data.")
    json_output: bool = Field(False, description="Print machine-readable JSON.", json_schema_extra={"flag": "json"})

    _project = field_validator("project")(lambda value: check_project_id(value))


class InfraCommandConfig(BaseModel):
    """Options of `firewatch infra apply|destroy|show` besides the resource names (`ResourceNames`)."""

    model_config = ConfigDict(extra="forbid")

    suffix: str | None = Field(None, description="Append -SUFFIX (_SUFFIX for the dataset) to every name.")
    yes: bool = Field(False, description="destroy: confirm deletion on a real project.")


def _stack_config(args: argparse.Namespace) -> StackConfig:
    return config_from_mapping(StackConfig, vars(args))


def _stack_up(args: argparse.Namespace) -> int:
    from infra import stack

    cfg = _stack_config(args)
    began = time.monotonic()
    endpoints = stack.up(cfg.state_dir, project=cfg.project, bucket=cfg.bucket, timeout=cfg.timeout)
    state = Path(endpoints.state_dir)
    if cfg.json_output:
        print(stack.endpoints_json(endpoints))
        return 0
    took = time.monotonic() - began
    print(f"local stack up in {took:.1f} s (project {endpoints.project}):")
    print(f"  Pub/Sub   {endpoints.pubsub_emulator_host}")
    print(f"  BigQuery  {endpoints.bigquery_endpoint}  (gRPC {endpoints.bigquery_grpc_endpoint})")
    print(f"  GCS       {endpoints.storage_emulator_host}")
    print(f"  env       {stack.env_file(state)}  (loaded by every firewatch command; `. {stack.env_file(state)}`)")
    print(f"  logs      {state / 'logs'}")
    print("next: firewatch infra apply")
    return 0


def _stack_status(args: argparse.Namespace) -> int:
    from infra import stack

    cfg = _stack_config(args)
    current = stack.status(cfg.state_dir)
    if cfg.json_output:
        print(
            json.dumps(
                {"running": current.running, "healthy": current.healthy, **json.loads(current.model_dump_json())},
                indent=2,
            )
        )
    elif current.endpoints is None:
        print("local stack: not running (start it with `firewatch stack up`)")
    else:
        print(f"local stack in {current.endpoints.state_dir} (project {current.endpoints.project}):")
        for name, svc in current.services.items():
            state = "healthy" if svc.healthy else ("UNHEALTHY" if svc.pids else "STOPPED")
            print(f"  {name:<9} port {svc.port:<6} {state:<9} pids {svc.pids}")
    if current.endpoints is None:
        return 3
    return 0 if current.healthy else 1


def _stack_down(args: argparse.Namespace) -> int:
    from infra import stack

    cfg = _stack_config(args)
    result = stack.down(cfg.state_dir, purge=cfg.purge)
    if not result:
        print("local stack: nothing was running")
    else:
        print("local stack stopped: " + ", ".join(sorted(result)) + (" (data purged)" if cfg.purge else ""))
    return 0


def _names(args: argparse.Namespace):
    from firewatch.cloud import clients as gcp
    from infra.resources import ResourceNames

    flat = {k: v for k, v in vars(args).items() if k in ResourceNames.model_fields}
    if "project" not in flat:
        flat["project"] = gcp.project_id(None)
    names = config_from_mapping(ResourceNames, flat)
    if not gcp.using_emulators():  # a real project: bucket names as Terraform gives them
        names = names.on_project()
    suffix = config_from_mapping(InfraCommandConfig, vars(args)).suffix
    if suffix:
        try:
            names = names.with_suffix(suffix)
        except ValueError as exc:
            raise UserError(str(exc)) from exc
    return names


def _target(names) -> str:
    from firewatch.cloud import clients as gcp

    return "the local emulators" if gcp.using_emulators() else f"project {names.project} (real Google Cloud)"


def _infra_apply(args: argparse.Namespace) -> int:
    from infra import resources

    names = _names(args)
    print(f"applying Firewatch resources on {_target(names)}:")
    actions = resources.apply(names, report=lambda action: print(f"  {action}"))
    drifted = [a.name for a in actions if "SCHEMA DRIFT" in a.outcome]
    if drifted:
        raise UserError(
            f"schema drift in {', '.join(drifted)}: the pipeline's rows no longer fit; recreate the table(s)"
        )
    return 0


def _infra_destroy(args: argparse.Namespace) -> int:
    from firewatch.cloud import clients as gcp
    from infra import resources

    names = _names(args)
    if not gcp.using_emulators() and not config_from_mapping(InfraCommandConfig, vars(args)).yes:
        raise UserError(
            f"this deletes the topics, subscriptions, dataset {names.dataset_id()} (with its data) and buckets "
            f"{', '.join(names.bucket_uri(key) for key in names.bucket_fields())} in project {names.project}; "
            "re-run with --yes to confirm."
        )
    print(f"destroying Firewatch resources on {_target(names)}:")
    resources.destroy(names, report=lambda action: print(f"  {action}"))
    return 0


def _infra_show(args: argparse.Namespace) -> int:
    names = _names(args)
    shown = names.model_dump()
    shown["tables"] = {key: names.table_id(key) for key in names.table_fields()}
    print(json.dumps(shown, indent=2))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `stack up|status|down` and `infra apply|destroy|show`."""
    from infra.resources import ResourceNames

    stack_parser = subparsers.add_parser("stack", help="Start, check or stop the local emulators.")
    stack_sub = stack_parser.add_subparsers(dest="stack_command", metavar="ACTION")
    stack_sub.required = True
    actions = {
        "up": (_stack_up, "Start Pub/Sub, BigQuery and GCS emulators; write .firewatch/stack.env.", ()),
        "status": (
            _stack_status,
            "Health of the running emulators (exit 0 healthy, 1 unhealthy, 3 none).",
            ("project", "bucket", "timeout", "purge"),
        ),
        "down": (_stack_down, "Stop every emulator process; remove stack.env.", ("project", "bucket", "timeout")),
    }
    for name, (func, help_text, skip) in actions.items():
        sub = stack_sub.add_parser(name, help=help_text, description=help_text)
        skipped = skip + (("purge",) if name == "up" else ())
        add_config_arguments(sub, StackConfig, skip=skipped)
        sub.set_defaults(func=func)

    infra_parser = subparsers.add_parser("infra", help="Create or delete Firewatch's topics, tables, buckets.")
    infra_sub = infra_parser.add_subparsers(dest="infra_command", metavar="ACTION")
    infra_sub.required = True
    commands = {
        "apply": (_infra_apply, "Create the declared resources that do not exist (idempotent)."),
        "destroy": (_infra_destroy, "Delete the declared resources and their data."),
        "show": (_infra_show, "Print the resolved resource names as JSON."),
    }
    for name, (func, help_text) in commands.items():
        sub = infra_sub.add_parser(
            name,
            help=help_text,
            description=help_text + " Targets the emulators when .firewatch/stack.env is loaded, else --project.",
        )
        add_config_arguments(sub, ResourceNames)
        add_config_arguments(sub, InfraCommandConfig, skip=() if name == "destroy" else ("yes",))
        sub.set_defaults(func=func)
