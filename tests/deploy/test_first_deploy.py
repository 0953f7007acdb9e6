"""docs/first-deploy.md, the first deploy from an empty project to a running streaming job, is one
ordered list of commands that work with this code: every `firewatch` command parses with the real
parser (the `deploy` ones also run with --dry-run), every gcloud flag is one the installed gcloud
documents for that command, every terraform `-var` is a declared variable (the required ones given),
and the steps come in an order that can work (infrastructure, then images, then the job)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest

from firewatch.cli import main
from firewatch.cli.dispatch import build_parser
from infra.deploy import DeployConfig
from tests.deploy.test_terraform import RESOURCES, unq

REPO = Path(__file__).resolve().parents[2]
RUNBOOK = REPO / "docs" / "first-deploy.md"
# The gcloud commands the runbook may use (the longest that matches names the command; the rest are
# its positional arguments).
GCLOUD_COMMANDS = {
    ("auth", "login"),
    ("auth", "application-default", "login"),
    ("config", "set"),
    ("services", "enable"),
    ("iam", "service-accounts", "add-iam-policy-binding"),
    ("storage", "cp"),
    ("dataflow", "jobs", "list"),
    ("secrets", "versions", "add"),
    ("builds", "list"),
}


def commands() -> list[list[str]]:
    text = RUNBOOK.read_text()
    blocks = re.findall(r"^```bash\n(.*?)^```", text, re.M | re.S)
    assert len(blocks) == 1, "the runbook is one ordered list of commands"
    joined = re.sub(r"\\\n\s*", " ", blocks[0])
    return [shlex.split(line) for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def gcloud_command(words: list[str]) -> tuple[str, ...]:
    path = [w for w in words[1:] if not w.startswith("-")]
    for size in range(len(path), 0, -1):
        if tuple(path[:size]) in GCLOUD_COMMANDS:
            return tuple(path[:size])
    raise AssertionError(f"unknown gcloud command: {shlex.join(words)} (add it to GCLOUD_COMMANDS)")


def test_every_firewatch_command_parses_and_deploys_dry_run(capsys):
    firewatch = [c for c in commands() if c[0] == "firewatch"]
    assert len(firewatch) >= 5
    parser = build_parser()
    for command in firewatch:
        parser.parse_args(command[1:])  # SystemExit (a failed test) on an unknown command or flag
        if command[1] == "deploy":
            assert main([*command[1:], "--dry-run"]) == 0, shlex.join(command)
            assert "$ gcloud " in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("gcloud") is None, reason="the gcloud CLI is not installed")
def test_every_gcloud_command_uses_only_documented_flags():
    from tests.deploy.test_deploy import documented_flags

    gcloud = [c for c in commands() if c[0] == "gcloud"]
    assert len(gcloud) >= 5
    for command in gcloud:
        path = gcloud_command(command)
        flags = [w.split("=", 1)[0] for w in command if w.startswith("--")]
        unknown = [f for f in flags if f not in documented_flags(path)]
        assert not unknown, f"`gcloud {' '.join(path)}` has no {unknown}"


def declared_variables() -> dict[str, dict]:
    out = {}
    for path in (REPO / "infra" / "terraform").glob("*.tf"):
        with path.open() as handle:
            for block in hcl2.load(handle).get("variable", []):
                out.update({unq(k): v for k, v in block.items()})
    return out


def test_every_terraform_command_names_the_module_and_declared_variables():
    variables = declared_variables()
    required = {name for name, body in variables.items() if "default" not in body}
    assert required == {"project_id"}
    terraform = [c for c in commands() if c[0] == "terraform"]
    assert [c[2] for c in terraform] == ["init", "apply"]
    for command in terraform:
        assert command[1] == "-chdir=infra/terraform" and list((REPO / "infra" / "terraform").glob("*.tf"))
    given = dict(w.removeprefix("-var=").split("=", 1) for w in terraform[1] if w.startswith("-var="))
    assert set(given) <= set(variables) and required <= set(given), given
    operators = json.loads(given["console_operators"])  # an HCL list of strings is JSON here
    assert all(re.fullmatch(r"(user|group|domain|serviceAccount):\S+", m) for m in operators)
    binary = shutil.which("terraform")
    if binary:  # the installed terraform documents -var and -chdir for these subcommands (offline)
        for sub in ("init", "apply"):
            help_text = subprocess.run([binary, sub, "-help"], capture_output=True, text=True, timeout=60).stdout
            assert sub == "init" or "-var 'foo=bar'" in help_text, sub
        assert "-chdir=DIR" in subprocess.run([binary, "-help"], capture_output=True, text=True, timeout=60).stdout


def test_steps_come_in_an_order_that_works_with_the_names_terraform_creates():
    steps = commands()

    def index(prefix: list[str]) -> int:
        return next(i for i, c in enumerate(steps) if c[: len(prefix)] == prefix)

    apply = index(["terraform", "-chdir=infra/terraform", "apply"])
    impersonate = index(["gcloud", "config", "set", "auth/impersonate_service_account"])
    build, run = index(["firewatch", "deploy", "build"]), index(["firewatch", "deploy", "run"])
    upload = index(["gcloud", "storage", "cp"])
    assert index(["gcloud", "services", "enable"]) < apply < impersonate < build < run
    assert index(["firewatch", "model", "demo"]) < upload < run
    project = re.search(r"project_id=(\S+)", " ".join(steps[apply])).group(1)
    launcher = unq(RESOURCES[("google_service_account", "launcher")]["account_id"])
    assert steps[impersonate][4] == f"{launcher}@{project}.iam.gserviceaccount.com"
    granted = [c for c in steps if c[:3] == ["gcloud", "iam", "service-accounts"]]
    assert granted and granted[0][4] == steps[impersonate][4]
    assert "--role=roles/iam.serviceAccountTokenCreator" in granted[0]
    # The model goes where the job reads it, in the bucket Terraform names; build and run use one tag.
    models = unq(RESOURCES[("google_storage_bucket", "models")]["name"]).replace("${var.project_id}", project)
    destination = steps[upload][-1]
    assert destination.startswith(f"gs://{models}/")
    run_args = steps[run]
    assert run_args[run_args.index("--model") + 1] == destination and "--job" not in run_args  # streaming
    tag = steps[build][steps[build].index("--tag") + 1]
    assert run_args[run_args.index("--tag") + 1] == tag
    assert DeployConfig(project=project).dataflow_bucket.startswith(project)


def test_readme_links_the_runbook_and_the_iam_table():
    readme = (REPO / "README.md").read_text()
    for page in ("docs/first-deploy.md", "docs/iam.md"):
        assert f"]({page})" in readme and (REPO / page).is_file(), page


def test_what_the_launcher_runs_needs_nothing_terraform_does_not_grant(capsys):
    """After step 3 gcloud acts as the launcher: its gcloud commands and those `firewatch deploy` runs."""
    from tests.deploy.iam_model import Names, missing, needs, terraform_rows

    steps = commands()
    impersonate = ["gcloud", "config", "set", "auth/impersonate_service_account"]
    start = next(i for i, c in enumerate(steps) if c[:4] == impersonate)
    names = Names("my-project")
    required = set()
    for command in steps[start + 1 :]:
        if command[0] == "gcloud":
            required |= needs(command, names)
        elif command[:2] == ["firewatch", "deploy"]:
            assert main([*command[1:], "--dry-run"]) == 0
            printed = [shlex.split(line[2:]) for line in capsys.readouterr().out.splitlines() if line.startswith("$ ")]
            required |= set().union(*(needs(c, names) for c in printed))
    assert ("launcher", "storage.objects.create", "bucket models") in required
    assert missing(required, terraform_rows()) == set()
