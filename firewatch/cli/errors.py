"""Command-line mistakes as one line, the problem first: an unknown flag named (with the flag meant,
when one is close), a boolean given a bad value, and what to run next (`--help`).

`ExactParser.error` passes argparse's message through `parser_error`; the dispatcher reports
arguments no command or Beam option took with `unknown_arguments`.
"""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Sequence

_BAD_BOOL = re.compile(r"argument (?P<flag>--[^/: ]+)[^:]*: ignored explicit argument '(?P<value>.*)'")
_REQUIRED = "the following arguments are required"
_CHOICE = re.compile(r"argument (?P<what>\S+): invalid choice: '(?P<value>[^']*)' \(choose from (?P<options>.*)\)")


def parser_error(parser: argparse.ArgumentParser, message: str) -> str:
    """argparse's `message` as one line a user can act on."""
    bad_bool = _BAD_BOOL.match(message)
    if bad_bool:
        flag, value = bad_bool["flag"], bad_bool["value"]
        negated = f"--no-{flag[2:]}"
        if any(word.startswith(negated + "=") for word in getattr(parser, "argv", [])):
            return f"{negated} takes no value; use {negated} or {flag}=false (see `{parser.prog} --help`)"
        message = (
            f"argument {flag}: {value!r} is not a boolean; use true or false "
            f"({flag}, --no-{flag[2:]} or {flag}=true|false)"
        )
    elif message.startswith(_REQUIRED):
        unknown = unknown_flags(parser, getattr(parser, "argv", []))
        if unknown:  # a misspelt flag is the problem, not the flag it failed to give
            message = unknown_arguments(parser, unknown)
        else:
            names = message.split(":", 1)[1].strip()
            message = f"{names} {'is' if ',' not in names else 'are'} required"
    else:
        choice = _CHOICE.match(message)
        if choice:
            options = [o.strip(" '") for o in choice["options"].split(",")]
            close = difflib.get_close_matches(choice["value"], options, n=1)
            message = f"unknown {choice['what'].lower()} {choice['value']!r}" + (
                f" (did you mean {close[0]}?)" if close else f"; choose from {', '.join(options)}"
            )
    return f"{message} (see `{parser.prog} --help`)"


def visible_flags(parser: argparse.ArgumentParser) -> list[str]:
    """The flags `--help` shows (booleans' `--flag=WORD` spellings are accepted, not shown)."""
    return [s for a in parser._actions for s in a.option_strings if s.startswith("--") and s != "--help"]


def unknown_flags(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """The words of `argv` that look like flags this parser does not know (nor Beam, for a command
    that passes Beam options on)."""
    known = parser._option_string_actions
    flags = [w for w in argv if w.startswith("--") and w != "--" and w not in known and w.split("=", 1)[0] not in known]
    if flags and parser.get_default("passthrough"):
        flags = [w for w in unknown_to_beam(flags) if w.startswith("--")]
    return flags


def unknown_arguments(parser: argparse.ArgumentParser, strays: Sequence[str]) -> str:
    """'unknown flag --modle (did you mean --model?)', or the words no argument took."""
    flags = [w for w in strays if w.startswith("-")]
    if not flags:
        return "unexpected argument(s): " + " ".join(strays)
    shown = visible_flags(parser)
    parts = []
    for flag in flags:
        name = flag.split("=", 1)[0]
        close = difflib.get_close_matches(name, shown, n=1, cutoff=0.6)
        parts.append(name + (f" (did you mean {close[0]}?)" if close else ""))
    return f"unknown flag{'s' if len(parts) > 1 else ''} " + ", ".join(parts)


def unknown_to_beam(args: Sequence[str]) -> list[str]:
    """The arguments Beam's PipelineOptions would silently discard (typos, wrong command)."""
    if not args:
        return []
    from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

    parser = _BeamArgumentParser(allow_abbrev=False)
    for cls in {str(c): c for c in PipelineOptions.__subclasses__()}.values():
        cls._add_argparse_args(parser)  # the same parser Beam builds in get_all_options()
    _, unknown = parser.parse_known_args(list(args))
    return unknown
