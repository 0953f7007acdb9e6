"""`firewatch data synth|ingest|from-feedback`, `firewatch train`, `firewatch evaluate`,
`firewatch model demo|fine-tune|feedback-report|loop`.

Each command validates its flags into its pydantic config (`model.config`) and calls the job.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, ValidationError

from firewatch.config.options import add_config_arguments, format_validation_error
from firewatch.errors import ModelError, UserError
from model.config import (
    CompareConfig,
    DemoConfig,
    EvaluateConfig,
    FeedbackReportConfig,
    FineTuneConfig,
    IngestConfig,
    LoopConfig,
    PromoteConfig,
    RegisterConfig,
    RollbackConfig,
    ShadowConfig,
    SynthConfig,
    TrainConfig,
    TrainFileConfig,
    VersionsConfig,
)

# Beam options accepted directly by `data ingest` (anything else: --beam-arg=--flag=value).
BEAM_FLAGS = (
    "runner",
    "region",
    "temp_location",
    "staging_location",
    "job_name",
    "setup_file",
    "num_workers",
    "max_num_workers",
    "machine_type",
    "service_account_email",
    "subnetwork",
)


def build_config(cls: type[BaseModel], values: dict[str, Any]) -> Any:
    try:
        return cls.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        raise UserError(format_validation_error(cls, exc)) from None


@contextmanager
def user_errors() -> Iterator[None]:
    """Missing inputs and `ModelError`s (empty split, corrupt model folder, bad weights file) -> `UserError`."""
    try:
        yield
    except (FileNotFoundError, ModelError) as exc:
        raise UserError(str(exc)) from None


def flag_values(args: argparse.Namespace, cls: type[BaseModel]) -> dict[str, Any]:
    return {name: getattr(args, name, None) for name in cls.model_fields}


def _synth(args: argparse.Namespace) -> int:
    from model.data.synth import write_dataset

    config = build_config(SynthConfig, flag_values(args, SynthConfig))
    started = time.perf_counter()
    summary = write_dataset(config.out, config.count, config.seed, config.size, workers=config.workers)
    seconds = time.perf_counter() - started
    print(json.dumps(summary, indent=2))
    print(
        f"synth: {config.count} images in {seconds:.1f}s ({config.count / seconds:.0f} img/s). "
        "This is SYNTHETIC demo data; to train on real images use ROOT/fire/*.jpg and ROOT/no_fire/*.jpg."
    )
    return 0


def ingest_config(args: argparse.Namespace) -> IngestConfig:
    """IngestConfig from the flags: like `stream` and `batch`, any Beam pipeline option is accepted as is
    (`--runner DataflowRunner --region R --temp_location gs://...`), plus --beam-arg=--flag=value."""
    beam_args = [f"--{flag}={getattr(args, flag)}" for flag in BEAM_FLAGS if getattr(args, flag) is not None]
    beam_args += list(getattr(args, "beam_args", None) or []) + list(args.beam_arg or [])
    return build_config(IngestConfig, {**flag_values(args, IngestConfig), "beam_args": beam_args})


def _ingest(args: argparse.Namespace) -> int:
    from model.data.ingest import format_summary, run_ingest

    config = ingest_config(args)
    started = time.perf_counter()
    with user_errors():
        summary = run_ingest(config)
    seconds = time.perf_counter() - started
    print(format_summary(summary))
    print(f"ingest: {seconds:.1f}s ({summary['files_listed'] / seconds:.0f} files/s)")
    return 0


def train_values(args: argparse.Namespace) -> dict[str, Any]:
    """TrainConfig values: the --config file, then the flags given, then $AIP_MODEL_DIR for a missing --output."""
    values: dict[str, Any] = {}
    if getattr(args, "config", None):
        try:
            with open(args.config) as f:
                values = json.load(f)
        except OSError as exc:
            raise UserError(f"cannot read --config {args.config}: {exc.strerror}") from None
        except ValueError as exc:
            raise UserError(f"--config {args.config} is not valid JSON ({exc})") from None
        if not isinstance(values, dict):
            raise UserError(f"--config {args.config} must hold a JSON object of train options")
    values.update({k: v for k, v in flag_values(args, TrainConfig).items() if v is not None})
    if not values.get("output") and os.environ.get("AIP_MODEL_DIR"):
        values["output"] = os.environ["AIP_MODEL_DIR"]
    return values


def _train(args: argparse.Namespace) -> int:
    from model.training.train import train

    config = build_config(TrainConfig, train_values(args))
    with user_errors():
        result = train(config)
    v = result.valid_metrics
    print(
        f"train: {result.train_images} training images, {result.seconds:.1f}s, "
        f"{result.images_per_second:.0f} img/s; valid: accuracy {v['accuracy']:.4f} recall {v['recall']:.4f} "
        f"at threshold {v['threshold']:.4f} (target recall {config.target_recall})"
    )
    print(f"exported {result.metadata['model_version']} to {config.output}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from model.evaluation.evaluate import EVALUATION_FILE, evaluate, format_report

    config = build_config(EvaluateConfig, flag_values(args, EvaluateConfig))
    with user_errors():
        report = evaluate(config)
    print(format_report(report))
    extra = ", false_alarms.png" if config.negatives else ""
    print(f"wrote {config.output}/{EVALUATION_FILE}, confusion_matrix.png, top_losses.png{extra}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from model.demo import ensure_demo_model

    config = build_config(DemoConfig, flag_values(args, DemoConfig))
    started = time.perf_counter()
    with user_errors():
        path = ensure_demo_model(
            config.output, count=config.count, epochs=config.epochs, seed=config.seed, force=config.force, verbose=1
        )
    print(f"demo model (synthetic data) ready in {path} ({time.perf_counter() - started:.1f}s)")
    return 0


def _fine_tune(args: argparse.Namespace) -> int:
    from model.evaluation.feedback_report import REPORT_FILE, format_comparison
    from model.training.fine_tune import fine_tune

    config = build_config(FineTuneConfig, flag_values(args, FineTuneConfig))
    with user_errors():
        result = fine_tune(config)
    print(format_comparison(result.report))
    print(
        f"fine-tuned {result.report['before']['model_version']} -> {result.metadata['model_version']} "
        f"({result.split['train']['frames']} feedback frames trained on, {result.split['heldout']['frames']} "
        f"held out) in {result.seconds:.1f}s; exported to {config.output} with {REPORT_FILE}"
    )
    return 0


def _feedback_report(args: argparse.Namespace) -> int:
    from model.evaluation.feedback_report import REPORT_FILE, format_comparison, report_from_config

    config = build_config(FeedbackReportConfig, flag_values(args, FeedbackReportConfig))
    with user_errors():
        report = report_from_config(config)
    print(format_comparison(report))
    print(f"wrote {config.output or config.after}/{REPORT_FILE}")
    return 0


def _from_feedback(args: argparse.Namespace) -> int:
    from model.data.feedback_export import main_from_args

    return main_from_args(vars(args))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Every command's flags come from its pydantic config (`add_config_arguments`), as for the
    other jobs; `data ingest` also passes Beam options through, `train` also reads --config."""
    data = subparsers.add_parser("data", help="demo data and TFRecord ingest")
    data_sub = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    data_sub.required = True

    synth = data_sub.add_parser("synth", help="write deterministic synthetic fire / no_fire images")
    add_config_arguments(synth, SynthConfig)
    synth.set_defaults(func=_synth)

    ingest = data_sub.add_parser("ingest", help="images -> TFRecords split train/valid/test (Apache Beam)")
    add_config_arguments(ingest, IngestConfig, skip=("beam_args",))
    for flag in BEAM_FLAGS:
        ingest.add_argument(f"--{flag}", f"--{flag.replace('_', '-')}", dest=flag, help=argparse.SUPPRESS)
    ingest.add_argument(
        "--beam-arg",
        action="append",
        metavar="--FLAG=VALUE",
        help="extra Beam pipeline option (repeatable); any Beam option (--runner, --region, "
        "--temp_location ...) is also accepted directly, as for `firewatch stream` and `firewatch batch`",
    )
    ingest.set_defaults(func=_ingest, passthrough=True)

    from model.data.feedback_export import FeedbackExportConfig

    from_feedback = data_sub.add_parser(
        "from-feedback",
        help="operators' verdicts -> ROOT/fire, ROOT/no_fire (+ manifest) for `data ingest`",
    )
    add_config_arguments(from_feedback, FeedbackExportConfig)
    from_feedback.set_defaults(func=_from_feedback)

    tr = subparsers.add_parser(
        "train",
        help="train, choose the threshold on valid, export MODEL_DIR",
        description="Flags override --config FILE (a JSON object of these options, e.g. `firewatch tune`'s "
        "best_config.json). Every flag is also accepted as --snake_case=VALUE (how Vertex AI passes "
        "hyperparameters); --output defaults to $AIP_MODEL_DIR when Vertex AI sets it.",
    )
    add_config_arguments(tr, TrainFileConfig)
    add_config_arguments(tr, TrainConfig, optional=True)  # --data/--output may come from --config
    tr.set_defaults(func=_train)

    ev = subparsers.add_parser("evaluate", help="metrics of an exported model on the test split")
    add_config_arguments(ev, EvaluateConfig)
    ev.set_defaults(func=_evaluate)

    model = subparsers.add_parser("model", help="model utilities")
    model_sub = model.add_subparsers(dest="model_command", metavar="MODEL_COMMAND")
    model_sub.required = True
    demo = model_sub.add_parser("demo", help="build the synthetic demo model (synth -> ingest -> train)")
    add_config_arguments(demo, DemoConfig)
    demo.set_defaults(func=_demo)
    fine = model_sub.add_parser(
        "fine-tune",
        help="old MODEL_DIR + `data from-feedback` folder -> new MODEL_DIR, compared before/after",
        description="Starts from an exported model, trains a few epochs at a low learning rate on the base "
        "train split plus the operators' feedback frames (an alert-wise share held out), chooses the threshold "
        "on valid, exports a new model version and writes feedback_evaluation.json (false-alarm and "
        "missed-fire rates on the held-out feedback, base test metrics; old vs new).",
    )
    add_config_arguments(fine, FineTuneConfig)
    fine.set_defaults(func=_fine_tune)
    fr = model_sub.add_parser(
        "feedback-report",
        help="old vs new model: held-out feedback false-alarm/missed-fire rates and base test metrics",
    )
    add_config_arguments(fr, FeedbackReportConfig)
    fr.set_defaults(func=_feedback_report)
    register_registry_commands(model_sub)
    register_loop_command(model_sub)


# -- the retraining loop (model.lifecycle.loop) -----------------------------------------------------------


def register_loop_command(model_sub: argparse._SubParsersAction) -> None:
    """`firewatch model loop`: verdicts -> from-feedback -> fine-tune -> evaluate -> register -> shadow."""
    loop = model_sub.add_parser(
        "loop",
        help="verdicts -> from-feedback -> fine-tune `current` -> evaluate -> register -> shadow (never promotes)",
        description=LoopConfig.__doc__,
    )
    add_config_arguments(loop, LoopConfig)
    loop.set_defaults(func=_loop)


def _loop(args: argparse.Namespace) -> int:
    from firewatch.cloud.clients import prepare_beam_offline_auth
    from model.lifecycle.loop import format_result, run_loop

    prepare_beam_offline_auth()  # gs:// registries and work folders through Beam's FileSystems
    config = build_config(LoopConfig, flag_values(args, LoopConfig))
    print(format_result(run_loop(config), config))
    return 0


# -- the model registry (model.lifecycle.registry) ---------------------------------------------------------

REGISTRY_COMMANDS = {
    "register": (RegisterConfig, ("registry", "model_dir"), "copy MODEL_DIR into REGISTRY as a version + lineage"),
    "promote": (PromoteConfig, ("registry", "version"), "point REGISTRY's `current` at VERSION (streams follow)"),
    "shadow": (ShadowConfig, ("registry", "version"), "point REGISTRY's `shadow` at VERSION (`none` clears it)"),
    "rollback": (RollbackConfig, ("registry",), "point REGISTRY's `current` back at the version it named before"),
    "versions": (VersionsConfig, ("registry",), "list REGISTRY's versions, their pointers and evaluation"),
    "compare": (CompareConfig, ("registry",), "shadow vs current on the same frames, from BigQuery"),
}


def register_registry_commands(model_sub: argparse._SubParsersAction) -> None:
    """`firewatch model register|promote|shadow|rollback|versions|compare`: positional REGISTRY (and
    MODEL_DIR or VERSION), every other field of the command's config as a flag."""
    for name, (cls, positionals, help_text) in REGISTRY_COMMANDS.items():
        parser = model_sub.add_parser(name, help=help_text, description=cls.__doc__)
        add_config_arguments(parser, cls, positional=positionals)
        parser.set_defaults(func=_registry_command, registry_command=name, registry_config=cls)


def _registry_command(args: argparse.Namespace) -> int:
    from firewatch.cloud.clients import prepare_beam_offline_auth
    from model.lifecycle import registry

    prepare_beam_offline_auth()  # gs:// registries through Beam's FileSystems, on the emulator too

    name = args.registry_command
    if name == "compare":
        return _compare(args)
    config = build_config(args.registry_config, flag_values(args, args.registry_config))
    with user_errors():
        if name == "versions":
            print(registry.format_versions(registry.versions(config)))
            return 0
        result = getattr(registry, name)(config)
    if name == "register":
        print(
            f"registered {result['model_version']} in {config.registry} (parent {result['parent_version'] or '-'}, "
            f"{len(result['data'])} data file(s) hashed)"
        )
    elif name == "promote":
        forced = f" (forced past: {'; '.join(result['problems'])})" if result["forced"] else ""
        print(f"current: {result['previous'] or '-'} -> {result['version']}{forced}")
    elif name == "rollback":
        print(f"current: {result['previous'] or '-'} -> {result['version']} (rolled back)")
    else:
        print(f"shadow: {result['previous'] or '-'} -> {result['version'] or '-'}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from google.api_core import exceptions as gexc

    from firewatch.config.options import config_from_args
    from model.evaluation.compare import run_compare
    from model.evaluation.shadow_compare import format_comparison

    config = config_from_args(CompareConfig, args)  # nested --confirm-* flags too
    try:
        with user_errors():
            report = run_compare(config)
    except (gexc.BadRequest, gexc.NotFound) as exc:
        raise UserError(
            f"model compare: the query failed: {getattr(exc, 'message', exc)} (do the tables exist? "
            "`firewatch infra apply`)"
        ) from None
    if config.json_output:
        print(json.dumps(report, indent=2, sort_keys=True, default=str))
        return 0
    which = report["version"] or "every shadow version"
    print(
        f"model compare: {which} since {report['since']} (confirmation replayed: k={config.confirm.k} "
        f"of n={config.confirm.n})"
    )
    print(format_comparison(report["pairs"]))
    return 0
