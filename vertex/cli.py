"""`firewatch vertex train|tune|automl|deploy|loop`: print the exact Vertex AI requests, or submit them with --submit;
`firewatch vertex predict ENDPOINT INPUT...`: score images on a deployed endpoint (or print the requests)."""

from __future__ import annotations

import argparse
import json
import os

from firewatch.config.options import add_config_arguments
from vertex.config import (
    VertexAutoMLConfig,
    VertexDeployConfig,
    VertexLoopConfig,
    VertexPredictConfig,
    VertexTrainConfig,
    VertexTuneConfig,
)

JOBS = {
    "train": (VertexTrainConfig, "`firewatch train` as a CustomJob on GPU workers (MirroredStrategy)"),
    "tune": (VertexTuneConfig, "a HyperparameterTuningJob over `firewatch tune`'s search space"),
    "automl": (VertexAutoMLConfig, "an AutoML image-classification baseline on the same images and split"),
    "deploy": (VertexDeployConfig, "upload an exported model to the Model Registry and deploy it to an endpoint"),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    vertex = subparsers.add_parser("vertex", help="Vertex AI jobs: print the spec (default) or --submit it")
    sub = vertex.add_subparsers(dest="vertex_command", metavar="VERTEX_COMMAND")
    sub.required = True
    for name, (config, help_text) in JOBS.items():
        parser = sub.add_parser(name, help=help_text, description=help_text + ". Prints the job spec unless --submit.")
        add_config_arguments(parser, config)
        parser.set_defaults(func=_run, vertex_config=config)
    help_text = "score image files (as bytes) or gs:// paths on a deployed endpoint"
    parser = sub.add_parser("predict", help=help_text, description=help_text + ". Calls it unless --dry-run.")
    add_config_arguments(parser, VertexPredictConfig, positional=("endpoint", "inputs"))
    parser.set_defaults(func=_predict)
    register_loop(sub)


def register_loop(sub: argparse._SubParsersAction) -> None:
    """`firewatch vertex loop`: the CustomJob running `firewatch model loop` and its Cloud Scheduler job."""
    help_text = "`firewatch model loop` as a CustomJob, created on a cron schedule by Cloud Scheduler"
    parser = sub.add_parser("loop", help=help_text, description=VertexLoopConfig.__doc__)
    add_config_arguments(parser, VertexLoopConfig)
    parser.set_defaults(func=_loop)


def _loop(args: argparse.Namespace) -> int:
    import shlex

    from firewatch.config.options import config_from_args
    from firewatch.errors import ConfigError, UserError
    from vertex import jobs, loop_job

    try:
        config = config_from_args(VertexLoopConfig, args)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    if config.submit and config.dry_run:
        raise UserError("--dry-run and --submit exclude each other")
    body = jobs.to_json(loop_job.loop_custom_job(config))
    os.makedirs(os.path.dirname(os.path.abspath(config.body_file)), exist_ok=True)
    with open(config.body_file, "w") as f:
        f.write(body + "\n")
    print(f"# CustomJob (the request body each scheduled run POSTs; written to {config.body_file})\n{body}")
    print(f"# Cloud Scheduler job\n{json.dumps(loop_job.scheduler_job(config), indent=2)}")
    print(f"# create the schedule (run from this folder):\n{shlex.join(loop_job.scheduler_command(config))}")
    if config.submit:
        print(f"submitted one run now: {loop_job.submit_loop_job(config)}")
    else:
        print("# dry run: nothing submitted (add --submit to run the loop once now)")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from firewatch.config.options import config_from_args
    from firewatch.errors import ConfigError, UserError
    from vertex import predict

    try:
        config = config_from_args(VertexPredictConfig, args)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    try:
        if config.dry_run:
            for _, request in predict.requests(config):
                print(f"# {type(request).__name__}\n{predict.request_json(request)}")
            print("# dry run: nothing sent")
            return 0
        results = predict.predict(config)
    except OSError as exc:
        raise UserError(f"cannot read {exc.filename}: {exc.strerror}") from None
    for result in results:
        print(f"{result.input}\t{result.fire_probability:.6f}\t{result.label}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from firewatch.config.options import config_from_args
    from firewatch.errors import ConfigError, UserError
    from vertex import jobs

    try:
        config = config_from_args(args.vertex_config, args)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    if config.submit and config.dry_run:
        raise UserError("--dry-run and --submit exclude each other")
    if isinstance(config, VertexDeployConfig):
        from vertex import endpoint

        try:
            print(endpoint.describe(endpoint.deploy_plan(config)))
        except ValueError as exc:
            raise UserError(str(exc)) from None
        if config.submit:
            version, deployed = endpoint.submit(config)
            print(f"submitted: {version} deployed to {endpoint.endpoint_name(config)} as {deployed}")
    elif isinstance(config, VertexTrainConfig):
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
