"""`firewatch model loop`: the retraining loop, closed up to a person's decision.

One run, each step an existing job called as is:

1. the registry's `current` version is the parent (no `current`: an error, nothing to start from);
2. the verdicts of the last `since_days` days are read (`model.data.feedback_export.read_feedback`) and
   the subjects (alerts, missed-fire frames) whose latest verdict is newer than the parent's
   registration are counted: fewer than `min_verdicts` -> nothing to do (exit 0, no new version);
3. `data from-feedback` into WORK/<run>/feedback (`export_feedback`, given the rows already read);
4. `model fine-tune` from REGISTRY/<current> into WORK/<run>/model (`fine_tune`);
5. `evaluate` the new model on the base test split; evaluation.json goes into the model folder;
6. `model register` it (parent = current; data = the base TFRecords and the feedback export, hashed;
   training config = WORK/<run>/loop_config.json; the evaluation), then 7. `model shadow` at it.

It never promotes: it prints the commands a person runs to compare and promote. With a gs:// WORK
the steps write to a local folder, uploaded to WORK/<run> before `register` (the lineage names it).

A step that fails ends the run with one line naming the step (`LoopError`, exit 2); its traceback is
kept in WORK/<run>/loop_error.txt. Nothing touches the registry before `register`, and a register
interrupted before its lineage is written leaves no version (its partial copy is removed).
Steps are plain functions (`LoopSteps`), so a test can replace one at its boundary.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from firewatch.cloud import registry as store
from firewatch.cloud.storage import is_remote, upload_dir
from firewatch.core.feedback import latest_verdicts
from firewatch.core.registry import CURRENT, check_promotion
from firewatch.errors import UserError
from model.config import EvaluateConfig, FineTuneConfig, LoopConfig, PromoteConfig, RegisterConfig, ShadowConfig
from model.data.feedback_export import FeedbackExportConfig

CONFIG_FILE = "loop_config.json"
ERROR_FILE = "loop_error.txt"
FEEDBACK_FIELDS = ("project", "dataset", "feedback_table", "allowed_buckets", "since_days", "max_object_bytes")
FINE_TUNE_FIELDS = ("epochs", "learning_rate", "batch_size", "feedback_weight", "feedback_holdout", "target_recall",
                    "seed", "verbose")  # fmt: skip
REGISTRY_FIELDS = ("by", "project", "dataset", "model_versions_table")
MARGIN = PromoteConfig.model_fields["margin"].default  # what `model promote` accepts without --margin


class LoopError(UserError):
    """A step of the loop failed; the message names it and says what was (not) registered."""


@dataclass(frozen=True)
class LoopSteps:
    """The jobs the loop runs, in order; each takes the config its own command takes."""

    read_verdicts: Callable[[FeedbackExportConfig], list[dict[str, Any]]]
    export: Callable[[FeedbackExportConfig, list[dict[str, Any]]], Any]  # -> model.data.feedback_export.ExportReport
    fine_tune: Callable[[FineTuneConfig], Any]  # -> model.training.fine_tune.FineTuneResult
    evaluate: Callable[[EvaluateConfig], dict[str, Any]]
    register: Callable[[RegisterConfig], dict[str, Any]]
    shadow: Callable[[ShadowConfig], dict[str, Any]]


def _read_verdicts(config: FeedbackExportConfig) -> list[dict[str, Any]]:
    from firewatch.cloud.clients import project_id
    from model.data.feedback_export import read_feedback

    return read_feedback(config, project_id(config.project))


def _fine_tune(config: FineTuneConfig) -> Any:
    from model.training.fine_tune import fine_tune

    return fine_tune(config)


def _evaluate(config: EvaluateConfig) -> dict[str, Any]:
    from model.evaluation.evaluate import evaluate

    return evaluate(config)


def default_steps() -> LoopSteps:
    from model.data.feedback_export import export_feedback
    from model.lifecycle import registry

    return LoopSteps(_read_verdicts, export_feedback, _fine_tune, _evaluate, registry.register, registry.shadow)


@dataclass
class LoopResult:
    parent: str
    verdicts: int
    since: str
    version: str | None = None  # None: nothing to do
    run_dir: str | None = None
    problems: tuple[str, ...] = ()  # the promotion check against `current` (informative: nothing is promoted)


def as_time(value: Any) -> dt.datetime:
    """A BigQuery TIMESTAMP (datetime) or an RFC 3339 string, timezone-aware."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def count_new_verdicts(rows: Sequence[Mapping[str, Any]], after: dt.datetime | None) -> int:
    """Subjects whose latest verdict was given after `after` (all of them when None)."""
    return sum(1 for row in latest_verdicts(rows).values() if after is None or as_time(row["judged_at"]) > after)


def text_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def run_id(now: dt.datetime) -> str:
    return f"loop-{now.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 400 else text[:397] + "..."


class _Run:
    """One run's folders and its step wrapper: a failure becomes one line, its traceback a file."""

    def __init__(self, config: LoopConfig, now: dt.datetime) -> None:
        self.run_dir = store.join(config.work, run_id(now))
        if is_remote(config.work):
            self.stage = tempfile.mkdtemp(prefix="firewatch-loop-")
            return
        self.stage = self.run_dir
        if os.path.exists(self.stage):
            raise LoopError(f"model loop: {self.stage} exists already: another run started this second; run again")
        os.makedirs(self.stage)

    def close(self) -> None:
        """Remove the local copy of a gs:// run (uploaded by then)."""
        if self.stage != self.run_dir:
            shutil.rmtree(self.stage, ignore_errors=True)

    def path(self, name: str) -> str:
        return os.path.join(self.stage, name)

    def keep(self) -> None:
        """A gs:// WORK gets the local folder (before register, and after a failure)."""
        if self.stage != self.run_dir:
            upload_dir(self.stage, self.run_dir)

    def step(self, name: str, fn: Callable[..., Any], *args: Any, registered: str = "no version registered") -> Any:
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - whatever fails: one line naming the step, the traceback kept
            with open(self.path(ERROR_FILE), "w") as f:
                f.write(f"step: {name}\n" + "".join(traceback.format_exception(exc)))
            try:
                self.keep()
            except Exception:  # noqa: BLE001 - the step's error is the one to report
                pass
            where = store.join(self.run_dir, ERROR_FILE)
            raise LoopError(f"model loop: {name} failed: {_one_line(exc)} ({registered}; traceback: {where})") from exc


def _pick(config: LoopConfig, names: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(config, name) for name in names}


def run_loop(
    config: LoopConfig,
    steps: LoopSteps | None = None,
    now: dt.datetime | None = None,
    log: Callable[[str], None] = print,
) -> LoopResult:
    """One run of the loop (see the module docstring); raises `LoopError` when a step fails."""
    steps = steps or default_steps()
    now = now or dt.datetime.now(dt.UTC)
    parent = store.read_pointer(config.registry, CURRENT)
    if parent is None:
        raise LoopError(
            f"model loop: {config.registry} has no `current` version to fine-tune: register and promote one first "
            "(`firewatch model register`, `firewatch model promote`)"
        )
    parent_lineage = store.read_lineage(config.registry, parent) or {}
    feedback = FeedbackExportConfig(output="-", **_pick(config, FEEDBACK_FIELDS))  # the run's folder comes later
    try:
        rows = steps.read_verdicts(feedback)
    except Exception as exc:  # noqa: BLE001 - one line naming the step
        raise LoopError(f"model loop: reading the verdicts failed: {_one_line(exc)} (no version registered)") from exc
    since = now - dt.timedelta(days=config.since_days)
    if parent_lineage.get("registered_at"):
        since = max(since, as_time(parent_lineage["registered_at"]))
    result = LoopResult(parent, count_new_verdicts(rows, since), text_time(since))
    if result.verdicts < config.min_verdicts:
        return result
    log(f"model loop: {result.verdicts} verdicts since {result.since} (current {parent}); run in progress")
    run = _Run(config, now)
    result.run_dir = run.run_dir
    try:
        _export_and_train(config, steps, run, feedback.model_copy(update={"output": run.path("feedback")}), rows,
                          result, log)  # fmt: skip
        _register_and_shadow(config, steps, run, result, parent_lineage, log)
    finally:
        run.close()
    return result


def _export_and_train(
    config: LoopConfig,
    steps: LoopSteps,
    run: _Run,
    feedback: FeedbackExportConfig,
    rows: list[dict[str, Any]],
    result: LoopResult,
    log: Callable[[str], None],
) -> None:
    """Steps 3-5: feedback export, fine-tune, evaluate (all under the run's local folder)."""
    report = run.step("data from-feedback", steps.export, feedback, rows)
    log(f"  data from-feedback: {report.summary()}")
    run.step("data from-feedback", _some_written, report, store.join(run.run_dir, "feedback"))
    tune = FineTuneConfig(
        model=store.version_dir(config.registry, result.parent),
        data=config.data,
        feedback=feedback.output,
        output=run.path("model"),
        **_pick(config, FINE_TUNE_FIELDS),
    )
    with open(run.path(CONFIG_FILE), "w") as f:
        json.dump({"loop": config.model_dump(mode="json"), "fine_tune": tune.model_dump(mode="json"),
                   "parent_version": result.parent, "new_verdicts": result.verdicts, "since": result.since},
                  f, indent=2)  # fmt: skip
    tuned = run.step("fine-tune", steps.fine_tune, tune)
    result.version = str(tuned.metadata["model_version"])
    log(f"  fine-tune: {result.parent} -> {result.version}")
    evaluation = EvaluateConfig(
        model=tune.output, data=config.data, output=tune.output, target_recall=config.target_recall,
        negatives=config.negatives,
    )  # fmt: skip
    report = run.step("evaluate", steps.evaluate, evaluation)
    log(f"  evaluate ({report.get('split', 'test')} split): recall {report['recall']:.4f} "
        f"precision {report['precision']:.4f}")  # fmt: skip


def _register_and_shadow(
    config: LoopConfig,
    steps: LoopSteps,
    run: _Run,
    result: LoopResult,
    parent_lineage: Mapping[str, Any],
    log: Callable[[str], None],
) -> None:
    """Steps 6-7: register with the lineage, point `shadow` at it; a partial register leaves no version."""
    version = str(result.version)
    run.step("upload of the run folder", run.keep)
    existed = store.exists(config.registry, version)
    register = RegisterConfig(
        registry=config.registry,
        model_dir=store.join(run.run_dir, "model"),
        data=(config.data, store.join(run.run_dir, "feedback")),
        training_config=store.join(run.run_dir, CONFIG_FILE),
        parent_version=result.parent,
        **_pick(config, REGISTRY_FIELDS),
    )
    try:
        lineage = steps.register(register)
    except Exception as exc:  # noqa: BLE001 - reported below, with what the registry now holds
        if not existed and store.exists(config.registry, version):
            registered = f"{version} is registered, not shadowed: `firewatch model shadow {config.registry} {version}`"
        else:
            if not existed:
                remove_partial_version(config.registry, version)
            registered = "no version registered"
        run.step("register", _reraise, exc, registered=registered)
    log(f"  register: {version} (parent {lineage['parent_version']}, {len(lineage['data'])} data files hashed)")
    current = parent_lineage.get("evaluation") or {}
    result.problems = check_promotion(lineage.get("evaluation") or {}, current, margin=MARGIN).problems
    shadow = ShadowConfig(registry=config.registry, version=version, **_pick(config, REGISTRY_FIELDS))
    registered = f"{version} is registered, not shadowed: `firewatch model shadow {config.registry} {version}`"
    moved = run.step("shadow", steps.shadow, shadow, registered=registered)
    log(f"  shadow: {moved['previous'] or '-'} -> {version}")


def _some_written(report: Any, folder: str) -> None:
    if not sum(report.written.values()):
        raise ValueError(f"no frame could be exported ({report.summary()}; why: {folder}/feedback_skipped.json)")


def _reraise(exc: BaseException) -> None:
    raise exc


def remove_partial_version(registry: str, version: str) -> None:
    """Remove REGISTRY/<version>/ left by a register that failed before writing its lineage."""
    folder = store.version_dir(registry, version)
    if is_remote(folder):
        from apache_beam.io.filesystems import FileSystems

        found = FileSystems.match([folder + "/**"])[0].metadata_list  # objects: gs:// has no folders
        if found:
            FileSystems.delete([m.path for m in found])
    else:
        shutil.rmtree(folder, ignore_errors=True)


def format_result(result: LoopResult, config: LoopConfig) -> str:
    """What the command prints last: nothing to do, or the new version and the commands a person runs next."""
    if result.version is None:
        return (
            f"nothing to do: {result.verdicts} verdicts since {result.since} (current {result.parent}); "
            f"--min-verdicts is {config.min_verdicts}. No new version."
        )
    check = (
        "passes" if not result.problems else "would need --force or a larger --margin: " + "; ".join(result.problems)
    )
    return "\n".join(
        [
            f"model loop: {result.version} registered (parent {result.parent}) and shadowed; current is still "
            f"{result.parent}. Work folder: {result.run_dir}",
            f"promotion check against {result.parent} (margin {MARGIN}): {check}",
            "next, a person decides (the loop never promotes):",
            f"  firewatch model compare {config.registry}    # once the streams have shadow-scored it for a while",
            f"  firewatch model promote {config.registry} {result.version}",
            f"  firewatch model shadow {config.registry} none    # to drop it instead",
        ]
    )
