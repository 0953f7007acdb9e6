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
from pydantic.fields import FieldInfo

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
    parser: argparse.ArgumentParser,
    model: type[BaseModel],
    *,
    skip: tuple[str, ...] = (),
    optional: bool = False,
    positional: tuple[str, ...] = (),
) -> None:
    """Add one flag per (nested) field of `model` (`positional` fields as positional arguments, in
    that order); defaults stay unset so pydantic's apply. `optional`: no flag is required by argparse
    (values may also come from elsewhere, e.g. a file). The parser records `model` (`recorded_configs`)."""
    for dest in positional:
        field = model.model_fields[dest]
        _, is_list = _base_type(field.annotation)
        nargs = ("+" if field.is_required() else "*") if is_list else (None if field.is_required() else "?")
        kwargs: dict[str, Any] = {"metavar": dest.upper(), "help": field.description}
        if nargs is not None:
            kwargs["nargs"] = nargs
        if not field.is_required():
            kwargs["default"] = argparse.SUPPRESS
        if typing.get_origin(field.annotation) is typing.Literal:  # checked by pydantic: argparse would
            choices = [str(c) for c in typing.get_args(field.annotation)]  # check a missing one's SUPPRESS
            kwargs["metavar"] = "{" + ",".join(choices) + "}"
        parser.add_argument(dest, **kwargs)
    group = parser.add_argument_group(f"{model.__name__} options")
    for dest, field in _iter_fields(model):
        if dest in skip or dest in positional:
            continue
        scalar, is_list = _base_type(field.annotation)
        help_text = field.description or ""
        if field.default is not None and not callable(field.default) and str(field.default) != "PydanticUndefined":
            help_text += f" (default: {field.default})"
        if field.is_required():
            help_text += " (required)"
        kwargs = {"dest": dest, "default": argparse.SUPPRESS, "help": help_text.strip()}
        if scalar is bool:
            kwargs.update(action=BoolFlag)
        elif _extra(field, "repeat"):  # --label A=1 --label B=2: one value a time, taken as given
            kwargs.update(type=str, action="append", metavar=dest.upper())
        elif is_list:  # text: "0.5,0.25" (a template's form) is split and converted by pydantic
            kwargs.update(type=str, nargs="+", metavar=dest.upper())
        else:
            kwargs.update(type=scalar if scalar in (int, float) else str, metavar=dest.upper())
            typing_literal = typing.get_origin(field.annotation) is typing.Literal
            if typing_literal:  # --help shows the choices: {table,json}
                kwargs["choices"] = list(typing.get_args(field.annotation))
                del kwargs["metavar"]
        if field.is_required() and not optional:
            kwargs["required"] = True
        action = group.add_argument(*flag_spellings(dest, field), **kwargs)
        if isinstance(action, BoolFlag):
            action.option_strings = action.shown  # registered in every spelling, shown in two
    parser.__dict__.setdefault("config_models", []).append((model, tuple(skip) + tuple(positional)))


def recorded_configs(parser: argparse.ArgumentParser) -> list[tuple[type[BaseModel], tuple[str, ...]]]:
    """The (config model, fields left out as flags) pairs whose flags `add_config_arguments` added."""
    return list(parser.__dict__.get("config_models", []))


def _extra(field: FieldInfo, key: str) -> Any:
    """A CLI hint in a field's `json_schema_extra`: "flag" (its flag's name, when not the field's)
    or "repeat" (a list flag given once per value, e.g. --label A=1 --label B=2)."""
    extra = field.json_schema_extra
    return extra.get(key) if isinstance(extra, dict) else None


def flag_spellings(dest: str, field: FieldInfo | None = None) -> list[str]:
    """`--dash-case`, and `--snake_case` too: Dataflow flex templates pass parameters as --snake_case=value."""
    flag = "--" + ((field and _extra(field, "flag")) or dest).replace("_", "-")
    return [flag] if flag == f"--{dest}" else [flag, f"--{dest}"]


def config_flags(model: type[BaseModel], skip: tuple[str, ...] = ()) -> set[str]:
    """Every flag spelling `add_config_arguments` gives `model`'s fields (booleans: also --no-...)."""
    flags: set[str] = set()
    for dest, field in _iter_fields(model):
        if dest in skip:
            continue
        spellings = flag_spellings(dest, field)
        flags.update(spellings)
        if _base_type(field.annotation)[0] is bool:
            flags.update(f"--no-{s[2:]}" for s in spellings)
    return flags


TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")


def parse_bool(text: str) -> bool:
    word = str(text).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{text!r} is not a boolean; use true or false")


def _word_forms(words: tuple[str, ...]) -> list[str]:
    return list(dict.fromkeys(form for word in words for form in (word, word.capitalize(), word.upper())))


class BoolFlag(argparse.Action):
    """A boolean flag that never takes the next word: `--flag`, `--no-flag`, and `--flag=true|false`
    as one word (flex templates pass `--name=value`; the console pre-fills "true").

    Each `--flag=WORD` is registered as an option string of its own, so argparse matches it exactly
    and the action takes no argument: `publish --fast cam-1=frames/` leaves `cam-1=frames/` a source.
    """

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        negated = [f"--no-{opt[2:]}" for opt in option_strings if opt.startswith("--")]
        valued = [f"{opt}={word}" for opt in option_strings for word in _word_forms(TRUE_WORDS + FALSE_WORDS)]
        kwargs.pop("nargs", None)
        kwargs.pop("metavar", None)
        self.shown = [option_strings[0], *negated[:1]]
        super().__init__([*option_strings, *negated, *valued], dest, nargs=0, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        text = option_string or ""
        if "=" in text:
            setattr(namespace, self.dest, parse_bool(text.split("=", 1)[1]))
        else:
            setattr(namespace, self.dest, not text.startswith("--no-"))

    def format_usage(self) -> str:
        return " | ".join(self.option_strings)


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
            if is_list and isinstance(value, list | tuple) and not _extra(field, "repeat"):  # "a,b" -> ["a", "b"]
                value = [part for item in value for part in str(item).split(",") if part]
            values[name] = value
    return values


def config_from_mapping(model: type[BaseModel], flat: dict[str, Any]):
    """Validate a flat {field or prefix_field: value} mapping into `model`."""
    try:
        return model.model_validate(_nest(model, flat))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(model, exc)) from None


def format_validation_error(model: type[BaseModel], exc: ValidationError) -> str:
    """The one message of every command's invalid flags: each problem named by its flag, e.g.
    `invalid TrainConfig: --data is required; --epochs: Input should be greater than 0`."""
    problems = []
    for err in exc.errors():
        where = "-".join(str(p) for p in err["loc"] if not isinstance(p, int)).replace("_", "-")
        message = err["msg"].removeprefix("Value error, ")
        if where and err["type"] == "missing":
            problems.append(f"--{where} is required")
        else:
            problems.append(f"--{where}: {message}" if where else message)
    return f"invalid {model.__name__}: " + "; ".join(problems)


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
