"""Maps a job's pydantic configuration 1:1 to command-line flags and flex-template parameters.

Each job has exactly one pydantic model. `add_config_arguments` turns its fields into
`--flag-name` options (nested models become `--prefix-field`), `config_from_args` builds
and validates the model back from parsed flags (pydantic's errors become one clear
message), and `template_parameters` lists the same fields as Dataflow flex-template
metadata parameters (`snake_case` names, as Dataflow passes them as pipeline options).
"""

from __future__ import annotations

import argparse
import json
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from firewatch.errors import ConfigError


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _base_type(annotation: Any) -> tuple[Any, bool]:
    """(scalar type, is_list) for annotations like `int | None`, `tuple[str, ...]`, `list[str]`."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _base_type(args[0]) if len(args) == 1 else (str, False)
    if origin in (list, tuple, set, frozenset):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        return (args[0] if args else str), True
    if origin is typing.Literal:
        return str, False
    return annotation, False


def _iter_fields(model: type[BaseModel], prefix: str = ""):
    for name, field in model.model_fields.items():
        if _is_model(field.annotation):
            yield from _iter_fields(field.annotation, f"{prefix}{name}_")
        else:
            yield f"{prefix}{name}", field


def add_config_arguments(
    parser: argparse.ArgumentParser, model: type[BaseModel], *, skip: tuple[str, ...] = (), optional: bool = False
) -> None:
    """Add one flag per (nested) field of `model`; defaults stay unset so pydantic's apply.
    `optional`: no flag is required by argparse (values may also come from elsewhere, e.g. a file)."""
    group = parser.add_argument_group(f"{model.__name__} options")
    for dest, field in _iter_fields(model):
        if dest in skip:
            continue
        flag = "--" + dest.replace("_", "-")
        scalar, is_list = _base_type(field.annotation)
        help_text = field.description or ""
        if field.default is not None and not callable(field.default) and str(field.default) != "PydanticUndefined":
            help_text += f" (default: {field.default})"
        kwargs: dict[str, Any] = {"dest": dest, "default": argparse.SUPPRESS, "help": help_text.strip()}
        if scalar is bool:
            kwargs.update(action=BoolFlag, metavar="true|false")
        elif is_list:  # text: "0.5,0.25" (a template's form) is split and converted by pydantic
            kwargs.update(type=str, nargs="+", metavar=dest.upper())
        else:
            kwargs.update(type=scalar if scalar in (int, float) else str, metavar=dest.upper())
            typing_literal = typing.get_origin(field.annotation) is typing.Literal
            if typing_literal:
                kwargs["choices"] = list(typing.get_args(field.annotation))
        if field.is_required() and not optional:
            kwargs["required"] = True
        # Dataflow flex templates pass parameters as --snake_case=value; accept both spellings.
        spellings = [flag] if flag == f"--{dest}" else [flag, f"--{dest}"]
        group.add_argument(*spellings, **kwargs)


TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")


def parse_bool(text: str) -> bool:
    word = str(text).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{text!r} is not a boolean; use true or false")


class BoolFlag(argparse.Action):
    """A boolean flag in every spelling users and Dataflow use: `--flag`, `--no-flag`, and
    `--flag=true|false` (flex templates pass `--name=value`; the console pre-fills "true")."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        negated = [f"--no-{opt[2:]}" for opt in option_strings if opt.startswith("--")]
        kwargs.pop("nargs", None)
        super().__init__([*option_strings, *negated], dest, nargs="?", **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        negated = bool(option_string and option_string.startswith("--no-"))
        if values is None:
            setattr(namespace, self.dest, not negated)
            return
        if negated:
            parser.error(f"{option_string} takes no value; use {option_string.replace('--no-', '--', 1)}={values}")
        try:
            setattr(namespace, self.dest, parse_bool(values))
        except ValueError as exc:
            parser.error(f"argument {option_string}: {exc}")


def _nest(model: type[BaseModel], flat: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        if _is_model(field.annotation):
            nested = _nest(field.annotation, flat, f"{key}_")
            if nested:
                values[name] = nested
        elif key in flat:
            value = flat[key]
            _, is_list = _base_type(field.annotation)
            if is_list and isinstance(value, list | tuple):  # "a,b" from a template -> ["a", "b"]
                value = [part for item in value for part in str(item).split(",") if part]
            values[name] = value
    return values


def config_from_mapping(model: type[BaseModel], flat: dict[str, Any]):
    """Validate a flat {field or prefix_field: value} mapping into `model`."""
    try:
        return model.model_validate(_nest(model, flat))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = "-".join(str(p) for p in err["loc"]).replace("_", "-")
            problems.append(f"--{where}: {err['msg']}" if where else err["msg"])
        raise ConfigError(f"invalid {model.__name__}: " + "; ".join(problems)) from None


def config_from_args(model: type[BaseModel], args: argparse.Namespace):
    return config_from_mapping(model, vars(args))


def template_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """Flex-template metadata `parameters` for every field of `model`."""
    params = []
    for dest, field in _iter_fields(model):
        scalar, is_list = _base_type(field.annotation)
        param: dict[str, Any] = {
            "name": dest,
            "label": dest.replace("_", " ").capitalize(),
            "helpText": field.description or dest,
            "isOptional": not field.is_required(),
        }
        if is_list:
            param["helpText"] += " (comma-separated)"
        if not field.is_required() and field.default not in (None, ()):
            param["defaultValue"] = (
                ",".join(map(str, field.default)) if is_list else json.dumps(field.default).strip('"')
            )
        params.append(param)
    return params
