"""The hyperparameter search space, declared once: Optuna samples it locally (`firewatch tune`) and
`vertex.jobs` turns it into a Vertex AI StudySpec. Every name is a `TrainConfig` field, so a trial's
values are `firewatch train` flags (`--learning_rate=0.001`, as Vertex AI passes them) and the best
trial is a `firewatch train --config` file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from model.architectures.backbones import BACKBONE_NAMES, BACKBONES


@dataclass(frozen=True)
class Param:
    name: str  # a TrainConfig field
    kind: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    only_for: str | None = None  # the backbone the parameter applies to (conditional on it)


SEARCH_SPACE: tuple[Param, ...] = (
    Param("backbone", "categorical", choices=BACKBONE_NAMES),
    Param("learning_rate", "float", 3e-4, 1e-2, log=True),
    Param("dropout", "float", 0.0, 0.5),
    Param("image_size", "categorical", choices=(96, 128, 160)),
    Param("augment_strength", "float", 0.0, 1.5),
    *(  # each backbone's own parameters (`model.architectures.backbones`), sampled only for it
        Param(name, "int", low, high, only_for=backbone.name)
        for backbone in BACKBONES.values()
        for name, low, high in backbone.tuning
    ),
)


def restrict(space: tuple[Param, ...], choices: dict[str, list[Any]]) -> tuple[Param, ...]:
    """The space with some categorical parameters limited to the given values (which must be valid)."""
    out = []
    for p in space:
        if p.name in choices and choices[p.name]:
            if p.kind != "categorical":
                raise ValueError(f"{p.name} is not categorical")
            bad = [c for c in choices[p.name] if c not in p.choices]
            if bad:
                raise ValueError(f"{p.name}: {bad} not in the search space {list(p.choices)}")
            p = Param(p.name, p.kind, choices=tuple(choices[p.name]), only_for=p.only_for)
        out.append(p)
    return tuple(out)


def suggest(trial: Any, space: tuple[Param, ...]) -> dict[str, Any]:
    """Sample one configuration from an Optuna trial."""
    values: dict[str, Any] = {}
    for p in space:  # define-by-run: a backbone-specific parameter is sampled only for that backbone
        if p.only_for is not None and values.get("backbone", p.only_for) != p.only_for:
            continue
        if p.kind == "categorical":
            values[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        elif p.kind == "int":
            values[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high))
        else:
            values[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log)
    return values
