"""No module writes a declared resource name by hand: infra/resources.json is its one home.

Scans the code (not the tests) with `ast` for two things a copy of the declaration looks like:
a default (a config field's or a parameter's, named for a topic, subscription, table, bucket or
dataset) equal to a declared name, where `DEFAULT_NAMES.<field>` belongs; and any string, f-string
parts included, equal to or building a name with a dash (`frames-sub`, `<project>-firewatch-frames`),
which no ordinary word is. Prose (docstrings, help texts) may mention names and is not scanned.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from infra.resources import NAMED_SECTIONS, declaration

REPO = Path(__file__).resolve().parents[2]
CODE = ("firewatch", "streaming", "batch", "model", "edge", "vertex", "tuning", "infra", "scripts")
RESOURCE_ARG = re.compile(r"topic|subscription|table|bucket|dataset")


def declared_names() -> set[str]:
    decl = declaration()
    return {decl["dataset"]["name"]} | {spec["name"] for s in NAMED_SECTIONS for spec in decl[s].values()}


def _field_default(value: ast.expr) -> ast.expr | None:
    if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "Field":
        given = [k.value for k in value.keywords if k.arg == "default"] or value.args[:1]
        return given[0] if given else None
    return value


def named_defaults(tree: ast.AST) -> Iterator[tuple[str, ast.expr]]:
    """(name, default) of every class-body field and every function parameter with a default."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value:
                    if (default := _field_default(item.value)) is not None:
                        yield item.target.id, default
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            positional = [*node.args.posonlyargs, *node.args.args]
            yield from ((a.arg, d) for a, d in zip(positional[::-1], node.args.defaults[::-1], strict=False))
            yield from ((a.arg, d) for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True) if d)


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def hand_written(source: str, names: set[str]) -> list[tuple[int, str]]:
    """(line, literal) of each hand-written resource name in `source`."""
    tree = ast.parse(source)
    found = []
    for arg, default in named_defaults(tree):
        for node in ast.walk(default):
            if isinstance(node, ast.Constant) and node.value in names and RESOURCE_ARG.search(arg):
                found.append((node.lineno, node.value))
    dashed = [name for name in names if "-" in name]
    docs = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = [p.value for p in node.values if isinstance(p, ast.Constant)]
            found += [(node.lineno, p) for p in parts if any(p.endswith(f"-{name}") for name in dashed)]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            if node.value in dashed:
                found.append((node.lineno, node.value))
    return sorted(set(found))


def test_no_module_writes_a_declared_resource_name_by_hand():
    names = declared_names()
    offenders = [
        f"{path.relative_to(REPO)}:{line}: {literal!r}"
        for package in CODE
        for path in sorted((REPO / package).rglob("*.py"))
        for line, literal in hand_written(path.read_text(), names)
    ]
    assert offenders == [], "take these from DEFAULT_NAMES / ResourceNames / project_bucket:\n" + "\n".join(offenders)


def test_the_scan_finds_each_kind_of_hand_written_name():
    names = declared_names()
    source = """
class C:
    alerts_topic: str = Field("alerts", min_length=1)
    frames_table: str = "predictions"
    engine: str = Field("firewatch")  # not a resource field: a word, not a copy


def publish(topic="frames", bucket: str = "firewatch-frames", *, subscription: str = "alerts-sub"):
    listen("frames-sub")
    return f"--allowed-buckets={project}-firewatch-frames"
"""
    assert hand_written(source, names) == [
        (3, "alerts"),
        (4, "predictions"),
        (8, "alerts-sub"),
        (8, "firewatch-frames"),
        (8, "frames"),
        (9, "frames-sub"),
        (10, "-firewatch-frames"),
    ]
