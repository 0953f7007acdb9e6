"""`firewatch vertex train|tune|automl`: print the exact Vertex AI job specification, or submit it with --submit."""

from __future__ import annotations

import argparse
import os

from firewatch.config.options import add_config_arguments
from vertex.config import VertexAutoMLConfig, VertexTrainConfig, VertexTuneConfig

JOBS = {
    "train": (VertexTrainConfig, "`firewatch train` as a CustomJob on GPU workers (MirroredStrategy)"),
    "tune": (VertexTuneConfig, "a HyperparameterTuningJob over `firewatch tune`'s search space"),
    "automl": (VertexAutoMLConfig, "an AutoML image-classification baseline on the same images and split"),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    vertex = subparsers.add_parser("vertex", help="Vertex AI jobs: print the spec (default) or --submit it")
    sub = vertex.add_subparsers(dest="vertex_command", metavar="VERTEX_COMMAND")
    sub.required = True
    for name, (config, help_text) in JOBS.items():
        parser = sub.add_parser(name, help=help_text, description=help_text + ". Prints the job spec unless --submit.")
        skip = ("train_args",) if "train_args" in config.model_fields else ()
        add_config_arguments(parser, config, skip=skip)
        if skip:
            parser.add_argument(
                "--train-arg",
                dest="train_args",
                default=argparse.SUPPRESS,
                action="append",
                metavar="--FLAG=VALUE",
                help="extra `firewatch train` flag for the job (repeatable), e.g. --train-arg=--epochs=8",
            )
        parser.add_argument("--dry-run", dest="dry_run", action="store_true", help="print the spec only (default)")
        parser.set_defaults(func=_run, vertex_config=config)


def _run(args: argparse.Namespace) -> int:
    from firewatch.config.options import config_from_args
    from firewatch.errors import ConfigError, UserError
    from vertex import jobs

    try:
        config = config_from_args(args.vertex_config, args)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    if config.submit and args.dry_run:
        raise UserError("--dry-run and --submit exclude each other")
    if isinstance(config, VertexTrainConfig):
        print(jobs.to_json(jobs.custom_job(config)))
        if config.submit:
            print(f"submitted {jobs.submit_custom_job(config)}")
    elif isinstance(config, VertexTuneConfig):
        try:
            print(jobs.to_json(jobs.tuning_job(config)))
        except ValueError as exc:
            raise UserError(str(exc)) from None
        if config.submit:
            print(f"submitted {jobs.submit_tuning_job(config)}")
    else:
        from model.cli import user_errors

        with user_errors():
            root, rows = jobs.manifest_rows(config.data)
        try:
            text = jobs.import_csv(root, rows, config.images_uri)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        os.makedirs(os.path.dirname(os.path.abspath(config.import_file)), exist_ok=True)
        with open(config.import_file, "w") as f:
            f.write(text)
        dataset, import_config, pipeline = jobs.automl_specs(config)
        for title, message in (("dataset", dataset), ("import", import_config), ("training pipeline", pipeline)):
            print(f"# {title}\n{jobs.to_json(message)}")
        print(f"# import file: {config.import_file} ({len(rows)} images) -> {config.import_file_uri}")
        if config.submit:
            print(f"submitted {jobs.submit_automl(config, text)}")
    if not config.submit:
        print("# dry run: nothing submitted (add --submit to create the job)")
    return 0
