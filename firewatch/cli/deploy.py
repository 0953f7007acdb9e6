"""`firewatch deploy build|run|update|console|drain`: flags -> one config per subcommand -> the gcloud
commands `infra.deploy` builds, printed and run (`--dry-run`: printed only)."""

from __future__ import annotations

import argparse
from typing import Any, Literal

from pydantic import BaseModel, Field

from firewatch.config.options import add_config_arguments, config_from_args
from firewatch.errors import ConfigError, UserError
from infra.deploy import (
    CONSOLE_SERVICE,
    CONSOLE_TOKENS_SECRET,
    ConsoleDeploy,
    DeployConfig,
    RunConfig,
    build_commands,
    console_commands,
    drain_command,
    execute,
    run_command,
)


class DeployCommand(BaseModel):
    """What one subcommand does, beside where (`DeployConfig`, whose flags every subcommand takes too)."""

    dry_run: bool = Field(False, description="print the gcloud commands without running them")


class BuildCommand(DeployCommand):
    job: Literal["streaming", "batch", "all"] = Field("all", description="which template(s) to build")


class LaunchCommand(DeployCommand):
    job: Literal["streaming", "batch"] = Field("streaming", description="which template to launch")
    job_name: str | None = Field(
        None, description="Dataflow job name (default: firewatch-<job>; update needs the same)"
    )
    max_workers: int = Field(5, ge=1, description="autoscaling ceiling")
    service_account: str | None = Field(None, description="worker service account (default: firewatch-workers@PROJECT)")
    label: tuple[str, ...] = Field(
        (), description="extra job label KEY=VALUE (repeatable)", json_schema_extra={"repeat": True}
    )
    model: str = Field(description="gs:// folder of the exported model")
    param: tuple[str, ...] = Field(
        (), description="template parameter NAME=VALUE (repeatable)", json_schema_extra={"repeat": True}
    )


class ConsoleCommand(DeployCommand):
    identity: Literal["iap", "tokens"] = Field(
        "iap",
        description="iap: behind Identity-Aware Proxy (operators from its header); tokens: $FIREWATCH_CONSOLE_TOKENS "
        f"from the Secret Manager secret {CONSOLE_TOKENS_SECRET!r}",
    )
    model: str | None = Field(None, description="gs:// folder of the exported model (the upload page)")
    iap_audience: str | None = Field(None, description="verify IAP's signed header for this audience")
    service_account: str | None = Field(
        None, description=f"the console's service account (default: {CONSOLE_SERVICE}@)"
    )
    skip_build: bool = Field(False, description="deploy the image already built for --tag")


class DrainCommand(DeployCommand):
    job_id: str = Field(description="Dataflow job id (gcloud dataflow jobs list --status=active)")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "deploy",
        help="build, run, update or drain the Dataflow flex templates (wraps gcloud; --dry-run prints)",
        description="Wraps gcloud. Every subcommand prints the commands it runs; --dry-run only prints them.",
    )
    sub = parser.add_subparsers(dest="deploy_command", metavar="SUBCOMMAND")
    sub.required = True

    build = sub.add_parser("build", help="build the images on Cloud Build and both template specs")
    add_config_arguments(build, DeployConfig)
    add_config_arguments(build, BuildCommand)
    build.set_defaults(func=_build)

    for name, update in (("run", False), ("update", True)):
        what = "replace the running streaming job in place (e.g. a new --model)" if update else "launch a job"
        launch = sub.add_parser(name, help=what)
        add_config_arguments(launch, DeployConfig)
        add_config_arguments(launch, LaunchCommand)
        launch.set_defaults(func=_launch, update=update)

    console = sub.add_parser("console", help="build the operator console's image and deploy it on Cloud Run")
    add_config_arguments(console, DeployConfig)
    add_config_arguments(console, ConsoleCommand)
    console.set_defaults(func=_console)

    drain = sub.add_parser("drain", help="drain a streaming job (finish in-flight work, then stop)")
    add_config_arguments(drain, DeployConfig)
    add_config_arguments(drain, DrainCommand, positional=("job_id",))
    drain.set_defaults(func=_drain)


def _config(model: type[BaseModel], args: argparse.Namespace) -> Any:
    try:
        return config_from_args(model, args)
    except ConfigError as exc:
        raise UserError(str(exc)) from None


def _build(args: argparse.Namespace) -> int:
    cfg: BuildCommand = _config(BuildCommand, args)
    jobs = ("streaming", "batch") if cfg.job == "all" else (cfg.job,)
    return execute(build_commands(_config(DeployConfig, args), jobs), cfg.dry_run)


def _launch(args: argparse.Namespace) -> int:
    cfg: LaunchCommand = _config(LaunchCommand, args)
    if args.update and cfg.job != "streaming":
        raise UserError("only a streaming job can be updated in place; run a new batch job instead")
    bad = [p for p in [*cfg.param, *cfg.label] if "=" not in p]
    if bad:
        raise UserError(f"expected NAME=VALUE, got: {', '.join(bad)}")
    run = RunConfig(
        job=cfg.job,
        job_name=cfg.job_name,
        max_workers=cfg.max_workers,
        service_account=cfg.service_account,
        labels=("app=firewatch", *cfg.label),
        parameters=(f"model={cfg.model}", *cfg.param),
        update=args.update,
    )
    return execute([run_command(_config(DeployConfig, args), run)], cfg.dry_run)


def _console(args: argparse.Namespace) -> int:
    cfg: ConsoleCommand = _config(ConsoleCommand, args)
    console = ConsoleDeploy(
        identity=cfg.identity, model=cfg.model, iap_audience=cfg.iap_audience, service_account=cfg.service_account
    )
    commands = console_commands(_config(DeployConfig, args), console)
    return execute(commands[1:] if cfg.skip_build else commands, cfg.dry_run)


def _drain(args: argparse.Namespace) -> int:
    cfg: DrainCommand = _config(DrainCommand, args)
    return execute([drain_command(_config(DeployConfig, args), cfg.job_id)], cfg.dry_run)
