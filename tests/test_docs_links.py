"""The README and docs/ hold together: README.md stays under 300 lines, every relative link in
README.md and docs/*.md points at a file that exists (and, with an anchor, at a heading that
exists), every docs page can be reached from the README, the columns the README's results table
names are columns of the schemas in infra/schemas/, and every `firewatch` command in the README's
bash blocks is one the CLI's parser accepts."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from firewatch.cli.dispatch import build_parser

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
PAGES = [README, *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def prose(text: str) -> str:
    """The text outside fenced code blocks and inline code spans (links there are not links)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of a page's headings (outside code blocks); repeats get -1, -2, ..."""
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, flags=re.M):
        base = slug(heading)
        found.add(base if base not in seen else f"{base}-{seen[base]}")
        seen[base] = seen.get(base, 0) + 1
    return found


def local_links(page: Path) -> list[str]:
    """The page's links that are not to another site."""
    return [t for t in LINK.findall(prose(page.read_text())) if not re.match(r"^[a-z]+:", t)]


def target(page: Path, link: str) -> tuple[Path, str]:
    path, _, anchor = link.partition("#")
    return ((page.parent / path).resolve() if path else page), anchor


def test_slug_matches_githubs_anchors():
    assert slug("4b. Or follow a model registry (no update, no restart)") == (
        "4b-or-follow-a-model-registry-no-update-no-restart"
    )
    assert slug("Two inference engines for TFRecords: `--inference-engine firewatch | tfx-bsl`") == (
        "two-inference-engines-for-tfrecords---inference-engine-firewatch--tfx-bsl"
    )


def test_readme_is_under_300_lines():
    assert len(README.read_text().splitlines()) < 300


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_points_at_a_file_and_heading_that_exist(page: Path):
    broken = []
    for link in local_links(page):
        file, anchor = target(page, link)
        if not file.exists():
            broken.append(f"{link}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{link}: no heading #{anchor} in {file.name}")
    assert not broken, broken


def reachable() -> set[Path]:
    """The pages reached from the README by following links between markdown files."""
    reached, todo = {README}, [README]
    while todo:
        page = todo.pop()
        for link in local_links(page):
            file, _ = target(page, link)
            if file.suffix == ".md" and file.exists() and file not in reached:
                reached.add(file)
                todo.append(file)
    return reached


def test_every_docs_page_is_reachable_from_the_readme():
    unreached = sorted(p.relative_to(REPO).as_posix() for p in set(PAGES) - reachable())
    assert unreached == []


def test_the_columns_the_readme_names_are_in_the_schemas():
    """Each `firewatch.TABLE` row of the results table: its backticked key columns (outside
    parentheses, which hold values and other tables' names) exist in infra/schemas/TABLE.json."""
    rows = re.findall(r"^\| `firewatch\.(\w+)` \|[^|]*\|(.*)\|$", README.read_text(), flags=re.M)
    assert len(rows) >= 5
    for table, cell in rows:
        schema = {f["name"] for f in json.loads((REPO / "infra" / "schemas" / f"{table}.json").read_text())}
        while re.search(r"\([^()]*\)", cell):
            cell = re.sub(r"\([^()]*\)", "", cell)
        named = set(re.findall(r"`(\w+)`", cell))
        assert named, table
        assert named <= schema, (table, named - schema)


def readme_commands() -> list[str]:
    """The `firewatch ...` commands of the README's bash blocks, continuations joined."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            for part in line.split(" #", 1)[0].split("&&"):
                if part.strip().startswith("firewatch "):
                    found.append(part.strip())
    return found


def test_the_readmes_firewatch_commands_parse():
    commands = readme_commands()
    assert len(commands) >= 15
    parser = build_parser()
    refused = []
    for command in commands:
        try:
            parser.parse_args(shlex.split(command)[1:])
        except SystemExit:
            refused.append(command)
    assert refused == []
