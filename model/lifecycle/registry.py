"""`firewatch model register|promote|shadow|rollback|versions`: the model registry's commands.

The registry is a folder (`firewatch.cloud.registry`; rules in `firewatch.core.registry`). Each
command changes the folder first (the running jobs follow its `current` pointer:
`firewatch stream --model-registry`), then writes the event with the version's lineage to the
`model_versions` table, so "which model, trained on what, raised this alert?" is one join on
`alerts.model_version`. `write_rows(table, rows)` replaces the BigQuery write (tests).
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from firewatch.cloud import registry as store
from firewatch.cloud.models import read_metadata
from firewatch.core.registry import (
    CURRENT,
    SHADOW,
    check_promotion,
    check_version_name,
    evaluation_summary,
    lineage_record,
    pop_history,
    push_history,
    version_row,
)
from firewatch.errors import UserError
from model.config import PromoteConfig, RegisterConfig, RegistryConfig, RollbackConfig, ShadowConfig, VersionsConfig

EVALUATION_FILE = "evaluation.json"  # model.evaluation.evaluate writes it; read here without importing TF
RowWriter = Callable[[str, Sequence[Mapping[str, Any]]], Any]


def now_text() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def actor(config: RegistryConfig) -> str:
    return config.by or os.environ.get("FIREWATCH_USER") or getpass.getuser()


def _record(config: RegistryConfig, lineage: Mapping[str, Any], event: str, at: str, write_rows: RowWriter | None):
    """Write one `model_versions` row (nothing when the table is empty)."""
    if not config.model_versions_table:
        return
    row = version_row(lineage, event=event, event_at=at, event_by=actor(config), registry=config.registry)
    if write_rows is None:
        from firewatch.cloud.bigquery_rows import BigQueryWriteError, insert_rows
        from firewatch.cloud.clients import project_id

        table = f"{project_id(config.project)}.{config.dataset}.{config.model_versions_table}"
        try:
            insert_rows(table, [row])
        except BigQueryWriteError as exc:
            raise UserError(
                f"the registry folder is updated, but the {event} row was not written to {table}: {exc}"
            ) from None
    else:
        write_rows(config.model_versions_table, [row])


def _lineage(config: RegistryConfig, version: str) -> dict[str, Any]:
    lineage = store.read_lineage(config.registry, version)
    if lineage is None:
        raise UserError(f"{version} is not registered in {config.registry} (see `firewatch model versions`)")
    return lineage


def register(config: RegisterConfig, write_rows: RowWriter | None = None) -> dict[str, Any]:
    """Copy MODEL_DIR into REGISTRY/<its model_version>/ with `lineage.json`; returns the lineage."""
    try:
        metadata = read_metadata(config.model_dir)
        version = check_version_name(metadata.model_version)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if store.exists(config.registry, version):
        raise UserError(f"{version} is already registered in {config.registry}")
    training = None
    if config.training_config:
        text = store.read_text(config.training_config)
        if text is None:
            raise UserError(f"--training-config {config.training_config} not found")
        training = json.loads(text)
    evaluation_text = store.read_text(store.join(config.model_dir, EVALUATION_FILE))
    data = []
    for root in config.data:
        hashes = store.file_hashes(root)
        if not hashes:
            raise UserError(f"--data {root}: no files found")
        data.extend(hashes)
    at = now_text()
    lineage = lineage_record(
        metadata.model_dump(),
        source=config.model_dir,
        registered_by=actor(config),
        registered_at=at,
        data=data,
        training_config=training,
        evaluation=json.loads(evaluation_text) if evaluation_text else None,
        parent_version=config.parent_version,
    )
    store.copy_model(config.model_dir, config.registry, version)
    store.write_lineage(config.registry, version, lineage)  # last: a version with lineage is complete
    _record(config, lineage, "registered", at, write_rows)
    return lineage


def promote(config: PromoteConfig, write_rows: RowWriter | None = None) -> dict[str, Any]:
    """Point `current` at VERSION, unless its evaluation is worse than current's beyond the margin
    (then UserError, unless --force). Returns {version, previous, check problems, forced}."""
    candidate = _lineage(config, config.version)
    previous = store.read_pointer(config.registry, CURRENT)
    problems: tuple[str, ...] = ()
    if previous and previous != config.version:
        current = store.read_lineage(config.registry, previous) or {}
        check = check_promotion(candidate.get("evaluation") or {}, current.get("evaluation"), margin=config.margin)
        problems = check.problems
        if problems and not config.force:
            raise UserError(
                f"not promoting {config.version}: its evaluation is worse than the current {previous}'s: "
                + "; ".join(problems)
                + f". Pass --force to promote it anyway, or --margin to accept a larger drop (now {config.margin})."
            )
    at = now_text()
    _set_current(config, config.version, "promoted", at, write_rows, candidate)
    return {"version": config.version, "previous": previous, "problems": list(problems), "forced": bool(problems)}


def _set_current(
    config: RegistryConfig, version: str, event: str, at: str, write_rows: RowWriter | None, lineage: dict[str, Any]
) -> None:
    entry = {"version": version, "at": at, "by": actor(config), "event": event}
    history = store.read_history(config.registry)
    if event == "promoted":
        store.write_history(config.registry, push_history(history, entry))
    store.write_pointer(config.registry, CURRENT, version)
    lineage = {**lineage, "promotions": [*lineage.get("promotions", []), entry]}
    store.write_lineage(config.registry, version, lineage)
    _record(config, lineage, event, at, write_rows)


def rollback(config: RollbackConfig, write_rows: RowWriter | None = None) -> dict[str, Any]:
    """Point `current` back at the version it named before the last promotion."""
    history = store.read_history(config.registry)
    current = store.read_pointer(config.registry, CURRENT)
    try:
        remaining, version = pop_history(history)
    except ValueError as exc:
        raise UserError(f"{config.registry}: {exc}") from None
    lineage = _lineage(config, version)
    store.write_history(config.registry, remaining)
    _set_current(config, version, "rolled_back_to", now_text(), write_rows, lineage)
    return {"version": version, "previous": current}


def shadow(config: ShadowConfig, write_rows: RowWriter | None = None) -> dict[str, Any]:
    """Point `shadow` at VERSION (`none`: clear it)."""
    previous = store.read_pointer(config.registry, SHADOW)
    if config.version.lower() == "none":
        store.write_pointer(config.registry, SHADOW, None)
        return {"version": None, "previous": previous}
    lineage = _lineage(config, config.version)
    at = now_text()
    store.write_pointer(config.registry, SHADOW, config.version)
    _record(config, lineage, "shadowed", at, write_rows)
    return {"version": config.version, "previous": previous}


def versions(config: VersionsConfig) -> list[dict[str, Any]]:
    """Every registered version with its pointers, parent, evaluation and registration."""
    current = store.read_pointer(config.registry, CURRENT)
    shadowed = store.read_pointer(config.registry, SHADOW)
    out = []
    for version in store.list_versions(config.registry):
        lineage = store.read_lineage(config.registry, version) or {}
        evaluation = lineage.get("evaluation") or evaluation_summary({})
        out.append(
            {
                "version": version,
                "pointers": [p for p, v in ((CURRENT, current), (SHADOW, shadowed)) if v == version],
                "parent_version": lineage.get("parent_version"),
                "registered_at": lineage.get("registered_at"),
                "registered_by": lineage.get("registered_by"),
                "recall": evaluation.get("recall"),
                "precision": evaluation.get("precision"),
                "real_negative_false_alarm_rate": evaluation.get("real_negative_false_alarm_rate"),
            }
        )
    return out


def format_versions(rows: Sequence[Mapping[str, Any]]) -> str:
    def number(value: Any) -> str:
        return "-" if value is None else f"{value:.4f}"

    lines = [f"{'version':40} {'pointers':16} {'recall':>8} {'precision':>9} {'real FA':>8}  registered"]
    for r in rows:
        lines.append(
            f"{r['version']:40} {','.join(r['pointers']) or '-':16} {number(r['recall']):>8} "
            f"{number(r['precision']):>9} {number(r['real_negative_false_alarm_rate']):>8}  "
            f"{r['registered_at'] or '-'} by {r['registered_by'] or '-'}"
            + (f" (from {r['parent_version']})" if r["parent_version"] else "")
        )
    return "\n".join(lines)
