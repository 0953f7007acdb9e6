"""`firewatch deploy --dry-run` prints gcloud commands whose every flag is one the installed gcloud
CLI documents for that command (its --help works offline), respecting gcloud's exclusive groups
(flex-template build: --image or --env), with parameters the templates declare."""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from firewatch.cli import main
from infra.deploy import GPU_MACHINE_TYPE, DeployConfig, RunConfig, build_commands, drain_command, run_command

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("gcloud") is None, reason="the gcloud CLI is not installed")


@functools.cache
def gcloud_help(command: tuple[str, ...]) -> str:
    env = {**os.environ, "CLOUDSDK_CORE_DISABLE_PROMPTS": "1", "PAGER": "cat", "TERM": "dumb"}
    proc = subprocess.run(["gcloud", *command, "--help"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout)


def section(text: str, title: str) -> str:
    match = re.search(rf"^{title}\n(.*?)(?=^[A-Z][A-Z ]+\n|\Z)", text, re.M | re.S)
    return match.group(1) if match else ""


@functools.cache
def documented_flags(command: tuple[str, ...]) -> frozenset[str]:
    text = gcloud_help(command)
    synopsis = section(text, "SYNOPSIS")
    flags = set(re.findall(r"--(?:\[no-\])?[a-z][a-z0-9-]*", synopsis + section(text, "GCLOUD WIDE FLAGS")))
    expanded = set()
    for flag in flags:
        if "[no-]" in flag:
            expanded |= {flag.replace("[no-]", ""), flag.replace("[no-]", "no-")}
        else:
            expanded.add(flag)
    assert "--project" in expanded, "gcloud-wide flags were not found in the help"
    return frozenset(expanded)


def split(command: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """(gcloud command path, flags used)."""
    path = []
    for word in command[1:]:
        if word.startswith("-") or "/" in word or "." in word or not re.fullmatch(r"[a-z-]+", word):
            break
        path.append(word)
    flags = [w.split("=", 1)[0] for w in command if w.startswith("--")]
    return tuple(path), flags


def assert_documented(command: list[str]) -> None:
    path, flags = split(command)
    unknown = [f for f in flags if f not in documented_flags(path)]
    assert not unknown, f"`gcloud {' '.join(path)}` has no {unknown}"


CPU = DeployConfig(project="my-proj", tag="v3")
GPU = DeployConfig(project="my-proj", tag="v3", gpu=True)


@pytest.mark.parametrize("cfg", [CPU, GPU])
def test_build_commands_use_only_documented_flags(cfg):
    commands = build_commands(cfg)
    assert [split(c)[0] for c in commands] == [
        ("builds", "submit"),
        ("dataflow", "flex-template", "build"),
        ("dataflow", "flex-template", "build"),
    ]
    for command in commands:
        assert_documented(command)


def test_template_build_uses_image_never_with_env():
    synopsis = section(gcloud_help(("dataflow", "flex-template", "build")), "SYNOPSIS")
    assert re.search(r"\(--image=IMAGE \| --env=", synopsis), "gcloud no longer makes --image and --env exclusive"
    for command in build_commands(GPU)[1:]:
        flags = split(command)[1]
        assert "--image" in flags and "--env" not in flags
        job = "streaming" if "streaming" in command[4] else "batch"
        assert f"--image={GPU.image(job)}" in command and GPU.image(job).endswith(f"/{job}-gpu:v3")
        assert command[4] == f"gs://my-proj-firewatch-dataflow/templates/{job}-gpu.json"
        assert Path(next(w for w in command if w.startswith("--metadata-file=")).split("=", 1)[1]).is_file()


@pytest.mark.parametrize("cfg", [CPU, GPU])
@pytest.mark.parametrize("job", ["streaming", "batch"])
def test_run_commands_use_only_documented_flags_and_declared_parameters(cfg, job):
    import json

    run = RunConfig(job=job, parameters=("model=gs://m/v3", "explain=false"), labels=("app=firewatch", "team=ops"))
    command = run_command(cfg, run)
    assert_documented(command)
    assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", command[4]), "Dataflow job names: lowercase, digits, -"
    metadata = json.loads((REPO / "infra" / "flex_templates" / f"{job}-metadata.json").read_text())
    declared = {p["name"] for p in metadata["parameters"]} | {"sdk_container_image"}
    params = next(w for w in command if w.startswith("--parameters=")).removeprefix("--parameters=^~^").split("~")
    assert {p.split("=", 1)[0] for p in params} <= declared
    assert f"sdk_container_image={cfg.image(job)}" in params
    assert ("--enable-streaming-engine" in command) is (job == "streaming")
    assert "--service-account-email=firewatch-workers@my-proj.iam.gserviceaccount.com" in command
    assert "--max-workers=5" in command and any(w.startswith("--additional-user-labels=") for w in command)


def test_gpu_run_sets_a_g2_machine_an_l4_and_a_bigger_boot_disk():
    from apache_beam.options.pipeline_options import PipelineOptions, WorkerOptions

    command = run_command(GPU, RunConfig(parameters=("model=gs://m/v3",)))
    assert f"--worker-machine-type={GPU_MACHINE_TYPE}" in command and GPU_MACHINE_TYPE.startswith("g2-")
    params = next(w for w in command if w.startswith("--parameters="))
    assert "worker_accelerator=type:nvidia-l4;count:1" in params
    extra = next(w for w in command if w.startswith("--additional-pipeline-options=")).split("=", 1)[1]
    options = PipelineOptions([f"--{o}" for o in extra.split(",")]).view_as(WorkerOptions)
    assert options.disk_size_gb >= 50  # a real Beam option, not a typo Dataflow would ignore
    assert "--worker-machine-type" not in " ".join(run_command(CPU, RunConfig(parameters=("model=gs://m",))))


def test_update_and_drain():
    command = run_command(CPU, RunConfig(parameters=("model=gs://m/v4",), update=True))
    assert_documented(command)
    assert "--update" in command and command[4] == "firewatch-streaming"
    drain = drain_command(CPU, "2026-11-23_01_02_03-123")
    assert_documented(drain)
    assert split(drain)[0] == ("dataflow", "jobs", "drain") and drain[4] == "2026-11-23_01_02_03-123"


def test_cloudbuild_config_builds_both_targets_with_the_pinned_tensorflow():
    config = yaml.safe_load((REPO / "infra" / "cloudbuild.yaml").read_text())
    dockerfile = (REPO / "Dockerfile").read_text()
    targets = [a.split("=", 1)[1] for step in config["steps"] for a in step["args"] if a.startswith("--target=")]
    assert sorted(targets) == ["batch", "streaming"]
    assert all(re.search(rf"^FROM \S+ AS {t}$", dockerfile, re.M) for t in targets)
    text = (REPO / "infra" / "cloudbuild.yaml").read_text()
    used = set(re.findall(r"\$\{(_[A-Z_]+)\}", text))
    submitted = build_commands(CPU)[0]
    passed = {
        kv.split("=", 1)[0]
        for kv in next(w for w in submitted if w.startswith("--substitutions=")).split("=", 1)[1].split(",")
    }
    assert used <= passed | set(config["substitutions"]), used - passed - set(config["substitutions"])
    prod = (REPO / "requirements-prod.txt").read_text()
    assert f"tensorflow=={config['substitutions']['_TF_VERSION']}\n" in prod


def test_dry_run_prints_the_exact_commands(capsys):
    argv = ["deploy", "run", "--project", "my-proj", "--model", "gs://m/v3", "--gpu", "--param", "explain=false"]
    assert main([*argv, "--dry-run"]) == 0
    printed = [line[2:] for line in capsys.readouterr().out.splitlines() if line.startswith("$ ")]
    expected = run_command(
        GPU.model_copy(update={"tag": "latest"}), RunConfig(parameters=("model=gs://m/v3", "explain=false"))
    )
    assert [shlex.split(line) for line in printed] == [expected]


def test_bad_parameters_are_clear_errors(capsys):
    assert main(["deploy", "update", "--project", "p", "--model", "gs://m", "--job", "batch", "--dry-run"]) == 2
    assert "only a streaming job can be updated" in capsys.readouterr().err
    assert main(["deploy", "run", "--project", "p", "--model", "gs://m", "--param", "explain", "--dry-run"]) == 2
    assert "expected NAME=VALUE" in capsys.readouterr().err


@pytest.mark.parametrize("identity", ["iap", "tokens"])
def test_console_commands_use_only_documented_flags_and_console_flags(identity, monkeypatch):
    from firewatch.cli.dispatch import build_parser
    from firewatch.config.options import config_from_args
    from firewatch.console.config import TOKENS_VAR, ConsoleConfig
    from infra.deploy import ConsoleDeploy, console_commands

    console = ConsoleDeploy(identity=identity, model="gs://my-proj-firewatch-models/current")
    build, deploy = console_commands(CPU, console)
    assert split(build)[0] == ("builds", "submit") and deploy[:5] == [
        "gcloud",
        "beta",
        "run",
        "deploy",
        "firewatch-console",
    ]
    assert_documented(build)
    unknown = [f for f in split(deploy)[1] if f not in documented_flags(("beta", "run", "deploy"))]
    assert not unknown, f"`gcloud beta run deploy` has no {unknown}"
    assert "--image=europe-west1-docker.pkg.dev/my-proj/firewatch/console:v3" in deploy
    assert "--service-account=firewatch-console@my-proj.iam.gserviceaccount.com" in deploy
    assert {"--max-instances=1", "--no-cpu-throttling", "--port=8080"} <= set(deploy)
    assert ("--iap" in deploy and "--no-allow-unauthenticated" in deploy) is (identity == "iap")
    # The container's arguments are parsed by the real `firewatch console` parser (the image's
    # entrypoint adds --host 0.0.0.0 --port $PORT), and the exposed console starts only with identity.
    container_args = next(w for w in deploy if w.startswith("--args=")).removeprefix("--args=^;^").split(";")
    if identity == "tokens":
        monkeypatch.setenv(TOKENS_VAR, "alice=" + "t" * 32)
    else:
        monkeypatch.delenv(TOKENS_VAR, raising=False)
    args = build_parser().parse_args(["console", "--host", "0.0.0.0", "--port", "8080", *container_args])
    config = config_from_args(ConsoleConfig, args)
    assert config.trust_iap is (identity == "iap")
    assert config.allowed_buckets == ("my-proj-firewatch-frames",) and config.model == console.model
    # The build config builds the Dockerfile's console target with the substitutions it is given.
    text = (REPO / "infra" / "cloudbuild-console.yaml").read_text()
    assert "--target=console" in text and re.search(r"^FROM \S+ AS console$", (REPO / "Dockerfile").read_text(), re.M)
    passed = {
        kv.split("=", 1)[0]
        for kv in next(w for w in build if w.startswith("--substitutions=")).split("=", 1)[1].split(",")
    }
    assert set(re.findall(r"\$\{(_[A-Z_]+)\}", text)) <= passed


def test_console_dry_run_prints_both_commands(capsys):
    assert main(["deploy", "console", "--project", "my-proj", "--tag", "v3", "--dry-run"]) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("$ ")]
    assert len(printed) == 2 and "builds submit" in printed[0] and "beta run deploy firewatch-console" in printed[1]
    assert main(["deploy", "console", "--project", "my-proj", "--skip-build", "--dry-run"]) == 0
    assert len([line for line in capsys.readouterr().out.splitlines() if line.startswith("$ ")]) == 1


GCLOUD_LOADER = """
import json, sys
from googlecloudsdk.api_lib.cloudbuild import cloudbuild_util, config
messages = cloudbuild_util.GetMessagesModule()
out = {}
for path in sys.argv[1:]:
    build = config.LoadCloudbuildConfigFromPath(path, messages, params=dict(json.loads(sys.stdin.read() or "{}")))
    out[path] = {"logging": str(build.options.logging), "images": list(build.images)}
print(json.dumps(out))
"""


def gcloud_python() -> tuple[str, dict[str, str]] | None:
    """The Cloud SDK's bundled Python and the path to its libraries (the code gcloud runs)."""
    if shutil.which("gcloud") is None:
        return None
    env = {**os.environ, "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"}
    root = subprocess.run(
        ["gcloud", "info", "--format=value(installation.sdk_root)"], capture_output=True, text=True, env=env
    ).stdout.strip()
    python = Path(root) / "platform" / "bundledpythonunix" / "bin" / "python3"
    if not python.exists():
        return None
    return str(python), {"PYTHONPATH": f"{root}/lib:{root}/lib/third_party"}


def test_cloud_build_configs_load_with_gclouds_own_loader_and_log_to_gcs_only():
    """Builds run as firewatch-builder (--service-account): Cloud Build then requires a logs bucket
    or Cloud Logging only; `--gcs-log-dir` gives the bucket and GCS_ONLY lets gcloud stream the log
    from it (api_lib/cloudbuild/logs.py), so neither account needs Logging or project Viewer."""
    found = gcloud_python()
    if found is None:
        pytest.skip("the Cloud SDK's bundled Python is not installed")
    python, extra = found
    paths = [str(REPO / "infra" / "cloudbuild.yaml"), str(REPO / "infra" / "cloudbuild-console.yaml")]
    subs = dict(kv.split("=", 1) for kv in build_commands(CPU)[0][-1].removeprefix("--substitutions=").split(","))
    proc = subprocess.run(
        [python, "-c", GCLOUD_LOADER, *paths],
        input=json.dumps(subs),
        capture_output=True,
        text=True,
        env={**os.environ, **extra},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]  # unknown fields or enum values raise there
    loaded = json.loads(proc.stdout)
    assert {v["logging"] for v in loaded.values()} == {"GCS_ONLY"}
    images = [re.sub(r"\$\{(_[A-Z_]+)\}", lambda m: subs[m.group(1)], i) for i in loaded[paths[0]]["images"]]
    assert images == [CPU.image("streaming"), CPU.image("batch")]  # what `deploy run` passes the workers
    for build in (build_commands(CPU)[0], build_commands(GPU)[0]):
        given = dict(w.split("=", 1) for w in build if w.startswith("--"))
        builder = "firewatch-builder@my-proj.iam.gserviceaccount.com"
        assert given["--service-account"] == f"projects/my-proj/serviceAccounts/{builder}"
        assert given["--gcs-log-dir"] == "gs://my-proj-firewatch-builds/logs"
        assert given["--gcs-source-staging-dir"] == "gs://my-proj-firewatch-builds/source"
