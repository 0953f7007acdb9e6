"""The model registry's rules, pure: version names, lineage, the promotion check, the history of `current`.

A registry is a folder (`firewatch.cloud.registry` reads and writes it): one sub-folder per version
(the export as `firewatch train` writes it, plus `lineage.json`), and small pointer files `current`
and `shadow` holding a version name. `history.json` is the stack of the versions `current` has named
(promotions push, a rollback pops), so `rollback` returns to the previous `current`.

Nothing here touches storage, Beam or Google Cloud; the commands (`model.lifecycle.registry`) and the running
job's follower (`firewatch.beam.model_follower`) call these functions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CURRENT = "current"
SHADOW = "shadow"
POINTERS = (CURRENT, SHADOW)
HISTORY_FILE = "history.json"
LINEAGE_FILE = "lineage.json"
RESERVED = frozenset({CURRENT, SHADOW, HISTORY_FILE})
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

# The evaluation numbers compared on promotion: (name, higher is better).
COMPARED = (("recall", True), ("precision", True), ("real_negative_false_alarm_rate", False))


def check_version_name(version: str) -> str:
    """A version name usable as a folder name on a local disk and in gs:// (no '/', not a pointer's name)."""
    if not _VERSION_RE.match(version or "") or version in RESERVED:
        raise ValueError(
            f"{version!r} is not a usable model version name (letters, digits, '.', '_', '-'; "
            f"at most 128 characters; not {sorted(RESERVED)})"
        )
    return version


def parse_pointer(text: str) -> str | None:
    """The version a pointer file names (None for an empty pointer)."""
    version = text.strip()
    return check_version_name(version) if version else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def evaluation_summary(metrics: Mapping[str, Any], evaluation: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The numbers promotion compares, from what the export carries.

    `metrics` is `firewatch_model.json`'s `metrics` (`valid`: the synthetic validation split's
    recall and precision at the model's threshold); `evaluation` is `evaluation.json` from
    `firewatch evaluate` when the model folder has one (test split; `real_negatives`: false alarms on
    real photographs without fire), which wins where both have a number."""
    valid = metrics.get("valid") if isinstance(metrics.get("valid"), Mapping) else {}
    out: dict[str, Any] = {
        "recall": _number(valid.get("recall")),
        "precision": _number(valid.get("precision")),
        "real_negative_false_alarm_rate": None,
        "source": "valid split (firewatch_model.json)" if valid else None,
    }
    if evaluation:
        for name in ("recall", "precision"):
            if _number(evaluation.get(name)) is not None:
                out[name] = _number(evaluation.get(name))
                out["source"] = f"{evaluation.get('split', 'test')} split (evaluation.json)"
        negatives = evaluation.get("real_negatives")
        if isinstance(negatives, Mapping):
            out["real_negative_false_alarm_rate"] = _number(negatives.get("false_alarm_rate"))
    return out


@dataclass(frozen=True)
class PromotionCheck:
    """Whether a candidate may replace the current version: `problems` lists each number worse than
    the current one's beyond the margin (empty: allowed)."""

    problems: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        return not self.problems


def check_promotion(
    candidate: Mapping[str, Any], current: Mapping[str, Any] | None, *, margin: float
) -> PromotionCheck:
    """Compare two `evaluation_summary`s: recall and precision may drop, and the real-negative
    false-alarm rate rise, by at most `margin` (absolute). Numbers missing on either side are not compared."""
    if not current:
        return PromotionCheck(())
    problems = []
    for name, higher_is_better in COMPARED:
        new, old = _number(candidate.get(name)), _number(current.get(name))
        if new is None or old is None:
            continue
        worse_by = (old - new) if higher_is_better else (new - old)
        if worse_by > margin:
            direction = "lower" if higher_is_better else "higher"
            problems.append(f"{name} {new:.4f} is {direction} than the current {old:.4f} by {worse_by:.4f} > {margin}")
    return PromotionCheck(tuple(problems))


def push_history(history: Sequence[Mapping[str, Any]], entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The history of `current` after a promotion of `entry['version']` (a repeated promotion of the
    version already current is not pushed again)."""
    out = [dict(e) for e in history]
    if out and out[-1].get("version") == entry.get("version"):
        return out
    return [*out, dict(entry)]


def pop_history(history: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """(history after a rollback, the version `current` returns to); ValueError when there is none."""
    if len(history) < 2:
        raise ValueError("nothing to roll back to: `current` has named only one version (or none) so far")
    out = [dict(e) for e in history[:-1]]
    return out, str(out[-1]["version"])


def lineage_record(
    metadata: Mapping[str, Any],
    *,
    source: str,
    registered_by: str,
    registered_at: str,
    data: Sequence[Mapping[str, Any]] = (),
    training_config: Mapping[str, Any] | None = None,
    evaluation: Mapping[str, Any] | None = None,
    parent_version: str | None = None,
) -> dict[str, Any]:
    """What `lineage.json` holds for a version (and its `model_versions` rows): where it came from,
    what it was trained on (files with their sha256 where they could be read), how, and how well."""
    metrics = metadata.get("metrics") or {}
    parent = parent_version or metrics.get("fine_tuned_from") or metadata.get("parent_version")
    return {
        "model_version": str(metadata["model_version"]),
        "registered_at": registered_at,
        "registered_by": registered_by,
        "source": source,
        "created_at": metadata.get("created_at"),
        "backbone": metadata.get("backbone"),
        "image_size": metadata.get("image_size"),
        "threshold": metadata.get("threshold"),
        "data_description": metadata.get("data_description"),
        "parent_version": str(parent) if parent else None,
        "data": [dict(d) for d in data],
        "training_config": dict(training_config or {}),
        "metrics": dict(metrics),
        "evaluation": evaluation_summary(metrics, evaluation),
        "promotions": [],
    }


def version_row(lineage: Mapping[str, Any], *, event: str, event_at: str, event_by: str, registry: str) -> dict:
    """One `firewatch.model_versions` row (infra/schemas/model_versions.json): the lineage of a
    version at one event (registered, promoted, shadowed, rolled_back_to); alerts join on model_version."""
    import json

    evaluation = lineage.get("evaluation") or {}
    return {
        "model_version": lineage["model_version"],
        "event": event,
        "event_at": event_at,
        "event_by": event_by,
        "registry": registry,
        "parent_version": lineage.get("parent_version"),
        "created_at": lineage.get("created_at"),
        "backbone": lineage.get("backbone"),
        "threshold": lineage.get("threshold"),
        "data_description": lineage.get("data_description"),
        "data": [
            {"path": str(d.get("path")), "sha256": d.get("sha256"), "bytes": d.get("bytes")}
            for d in lineage.get("data") or []
        ],
        "training_config": json.dumps(lineage.get("training_config") or {}, sort_keys=True),
        "recall": evaluation.get("recall"),
        "precision": evaluation.get("precision"),
        "real_negative_false_alarm_rate": evaluation.get("real_negative_false_alarm_rate"),
        "evaluation_source": evaluation.get("source"),
        "metrics": json.dumps(lineage.get("metrics") or {}, sort_keys=True, default=str),
    }
