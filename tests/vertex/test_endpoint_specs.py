"""`firewatch vertex deploy|predict`: the requests, built offline with aiplatform's own types and checked
field by field; the plan's submission against fake clients; the CLI's dry runs parse back as the real types."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from google.cloud.aiplatform_v1.types import (
    AcceleratorType,
    CreateEndpointRequest,
    DeployModelRequest,
    GetEndpointRequest,
    PredictRequest,
    RawPredictRequest,
    UploadModelRequest,
)

from firewatch.cli import main
from vertex import endpoint, predict, serving
from vertex.config import VertexDeployConfig, VertexPredictConfig
from vertex.jobs import to_json

TF_SERVING = "europe-west4-docker.pkg.dev/p1/fw/tf-serving:2.21.0"
COMMON = {"project": "p1", "region": "europe-west4", "model_dir": "gs://b/models/m1"}
PARENT = "projects/p1/locations/europe-west4"


def test_no_prebuilt_container_serves_tf_2_21_so_tf_serving_runs_a_staged_copy():
    config = VertexDeployConfig(**COMMON, tf_version="2.21.0", serving_image=TF_SERVING, version_aliases=["prod"])
    plan = endpoint.deploy_plan(config)
    assert plan.copy == ("gs://b/models/m1", "gs://b/models/m1.serving/1")
    upload = plan.upload
    assert isinstance(upload, UploadModelRequest)
    assert upload.parent == PARENT and upload.model_id == "firewatch" and not upload.parent_model
    model = upload.model
    assert model.display_name == "firewatch" and model.artifact_uri == "gs://b/models/m1.serving"
    assert list(model.version_aliases) == ["prod"]
    spec = model.container_spec
    assert spec.image_uri == TF_SERVING
    assert list(spec.command) == ["tensorflow_model_server"]
    assert list(spec.args) == [
        "--model_name=firewatch",
        "--model_base_path=$(AIP_STORAGE_URI)",  # expanded by Vertex AI: its copy of artifact_uri
        "--rest_api_port=8080",
        "--port=8500",
    ]
    assert [p.container_port for p in spec.ports] == [8080]
    assert spec.predict_route == "/v1/models/firewatch:predict" and spec.health_route == "/v1/models/firewatch"
    assert UploadModelRequest.from_json(to_json(upload)) == upload


def test_without_a_serving_image_tf_2_21_is_refused_with_the_way_out():
    with pytest.raises(ValueError, match=r"newest is 2\.15.*--serving-image.*tensorflow/serving:2\.21\.0"):
        endpoint.deploy_plan(VertexDeployConfig(**COMMON, tf_version="2.21.0"))


@pytest.mark.parametrize(
    ("tf_version", "gpu", "region", "image"),
    [
        ("2.15.1", False, "europe-west4", "europe-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest"),
        ("2.15.0", True, "us-central1", "us-docker.pkg.dev/vertex-ai/prediction/tf2-gpu.2-15:latest"),
        ("2.12.0", False, "asia-east1", "asia-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-14:latest"),
    ],
)
def test_prebuilt_container_serves_the_model_dir_as_is(tf_version, gpu, region, image):
    container = serving.serving_container(tf_version, "gs://b/m", region, gpu=gpu, serving_image=None)
    assert container.image_uri == image and container.artifact_uri == "gs://b/m" and container.staged_from is None
    assert serving.prebuilt_version("2.16.0") is None and serving.prebuilt_version("2.21.0") is None


def test_prebuilt_upload_has_no_command_and_no_copy():
    config = VertexDeployConfig(**COMMON, tf_version="2.15.0")
    plan = endpoint.deploy_plan(config)
    spec = plan.upload.model.container_spec
    assert plan.copy is None and plan.upload.model.artifact_uri == "gs://b/models/m1"
    assert spec.image_uri.endswith("/tf2-cpu.2-15:latest") and not spec.command and not spec.args


def test_new_version_on_a_gpu_endpoint_takes_a_share_of_the_traffic():
    config = VertexDeployConfig(
        **COMMON,
        tf_version="2.21.0",
        serving_image=TF_SERVING + "-gpu",
        new_version=True,
        traffic_percent=10,
        machine_type="g2-standard-8",
        accelerator_type="NVIDIA_L4",
        accelerator_count=1,
        min_replicas=1,
        max_replicas=4,
        service_account="fw-endpoint@p1.iam.gserviceaccount.com",
    )
    plan = endpoint.deploy_plan(config)
    assert plan.upload.parent_model == f"{PARENT}/models/firewatch" and not plan.upload.model_id
    assert plan.endpoint == GetEndpointRequest(name=f"{PARENT}/endpoints/firewatch")
    deploy = plan.deploy
    assert isinstance(deploy, DeployModelRequest) and deploy.endpoint == f"{PARENT}/endpoints/firewatch"
    deployed = deploy.deployed_model
    assert deployed.model == f"{PARENT}/models/firewatch@VERSION_ID"
    assert deployed.service_account == "fw-endpoint@p1.iam.gserviceaccount.com"
    resources = deployed.dedicated_resources
    assert resources.machine_spec.machine_type == "g2-standard-8"
    assert resources.machine_spec.accelerator_type == AcceleratorType.NVIDIA_L4
    assert resources.machine_spec.accelerator_count == 1
    assert (resources.min_replica_count, resources.max_replica_count) == (1, 4)
    assert dict(deploy.traffic_split) == {"0": 10, "DEPLOYED_MODEL_ID": 90}
    assert DeployModelRequest.from_json(to_json(deploy)) == deploy


def test_first_deploy_creates_the_endpoint_and_sends_it_all_traffic():
    plan = endpoint.deploy_plan(VertexDeployConfig(**COMMON, tf_version="2.15.0", create_endpoint=True))
    assert plan.endpoint == CreateEndpointRequest(
        parent=PARENT, endpoint={"display_name": "firewatch"}, endpoint_id="firewatch"
    )
    assert dict(plan.deploy.traffic_split) == {"0": 100}
    assert plan.deploy.deployed_model.dedicated_resources.machine_spec.accelerator_count == 0


@pytest.mark.parametrize(
    ("current", "percent", "split"),
    [
        ({}, 100, {"0": 100}),
        ({"111": 100}, 100, {"0": 100}),  # the old version stays deployed, with no traffic
        ({"111": 100}, 25, {"0": 25, "111": 75}),
        ({"111": 50, "222": 50}, 25, {"0": 25, "111": 38, "222": 37}),  # largest remainder, ties by id
        ({"111": 70, "222": 30, "333": 0}, 10, {"0": 10, "111": 63, "222": 27}),
    ],
)
def test_traffic_split_keeps_the_others_proportions_and_sums_to_100(current, percent, split):
    assert endpoint.traffic_split(current, percent) == split
    assert sum(split.values()) == 100


def test_traffic_split_refuses_a_share_when_nothing_else_serves():
    with pytest.raises(ValueError, match="must take 100%"):
        endpoint.traffic_split({}, 30)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"model_dir": "/local/model"}, "gs://"),
        ({"max_replicas": 1, "min_replicas": 2}, "max_replicas"),
        ({"accelerator_type": "NVIDIA_L4"}, "go together"),
        ({"accelerator_type": "NVIDIA_L4", "accelerator_count": 1}, "g2-"),  # on the default n1 machine
        ({"accelerator_type": "NVIDIA_TESLA_X", "accelerator_count": 1}, "unknown accelerator"),
        ({"create_endpoint": True, "traffic_percent": 50}, "must be 100"),
        ({"create_endpoint": True, "endpoint": "Fire_1"}, "endpoint id"),
        ({"version_aliases": ["default"]}, "invalid version aliases"),
        ({"model_id": "Firewatch"}, "lowercase"),
        ({"tf_version": "latest"}, "not a TensorFlow version"),
        ({"tf_version": ""}, "TensorFlow is not installed here"),
    ],
)
def test_deploy_config_rejects(fields, message):
    with pytest.raises(ValueError, match=message):
        VertexDeployConfig(**{**COMMON, **fields})


def test_submit_fills_the_placeholders_from_the_api(monkeypatch):
    calls = []

    class Operation(SimpleNamespace):
        def result(self):
            return self.value

    class Models:
        def upload_model(self, request):
            calls.append(("upload", request))
            return Operation(value=SimpleNamespace(model=f"{PARENT}/models/firewatch", model_version_id="3"))

    class Endpoints:
        def get_endpoint(self, request):
            calls.append(("get", request))
            return SimpleNamespace(traffic_split={"111": 60, "222": 40})

        def deploy_model(self, request):
            calls.append(("deploy", request))
            return Operation(value=SimpleNamespace(deployed_model=SimpleNamespace(id="333")))

    copies = []
    monkeypatch.setattr("firewatch.cloud.storage.download_dir", lambda src: f"/tmp/copy-of-{src[5:]}")
    monkeypatch.setattr("firewatch.cloud.storage.upload_dir", lambda local, dst: copies.append((local, dst)))
    config = VertexDeployConfig(
        **COMMON, tf_version="2.21.0", serving_image=TF_SERVING, new_version=True, traffic_percent=20
    )
    version, deployed = endpoint.submit(config, clients={"models": Models(), "endpoints": Endpoints()})
    assert copies == [("/tmp/copy-of-b/models/m1", "gs://b/models/m1.serving/1")]
    assert [kind for kind, _ in calls] == ["upload", "get", "deploy"]
    deploy = calls[-1][1]
    assert deploy.deployed_model.model == f"{PARENT}/models/firewatch@3"
    assert dict(deploy.traffic_split) == {"0": 20, "111": 48, "222": 32}
    assert (version, deployed) == (f"{PARENT}/models/firewatch@3", "333")


def test_predict_requests_batch_files_under_the_request_limit(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(predict, "MAX_REQUEST_BYTES", 300)
    files = []
    for i, size in enumerate((60, 90, 120, 10)):  # base64 + 32 each: 112, 152 | 192, 48
        files.append(tmp_path / f"{i}.jpg")
        files[-1].write_bytes(bytes([i]) * size)
    config = VertexPredictConfig(project="p1", endpoint="e1", inputs=[str(f) for f in files])
    built = predict.requests(config)
    assert [[Path(p).name for p in inputs] for inputs, _ in built] == [["0.jpg", "1.jpg"], ["2.jpg", "3.jpg"]]
    request = built[0][1]
    assert isinstance(request, PredictRequest) and request.endpoint == f"{PARENT}/endpoints/e1"
    body = json.loads(to_json(request))
    assert [base64.b64decode(i["image_bytes"]["b64"]) for i in body["instances"]] == [b"\0" * 60, b"\1" * 90]


def test_predict_paths_go_as_raw_predict_with_the_paths_signature():
    uris = [f"gs://frames/cam/{i}.jpg" for i in range(70)]
    built = predict.requests(VertexPredictConfig(project="p1", region="us-central1", endpoint="e1", inputs=uris))
    assert [len(inputs) for inputs, _ in built] == [64, 6]
    inputs, request = built[1]
    assert isinstance(request, RawPredictRequest)
    assert request.endpoint == "projects/p1/locations/us-central1/endpoints/e1"
    assert request.http_body.content_type == "application/json"
    assert json.loads(request.http_body.data) == {
        "signature_name": "predict_paths",
        "instances": [{"image_paths": u} for u in uris[64:]],
    }


def test_predict_config_takes_files_or_paths_not_both():
    with pytest.raises(ValueError, match="not both"):
        VertexPredictConfig(project="p1", endpoint="e", inputs=["a.jpg", "gs://b/a.jpg"])


def _json_blocks(text: str) -> list[tuple[str, str]]:
    """(title, JSON text) for each `# title` line followed by a JSON object in the dry run's output."""
    blocks, title, lines = [], None, []
    for line in text.splitlines():
        if line.startswith("#"):
            if lines:
                blocks.append((title, "\n".join(lines)))
            title, lines = line, []
        elif title is not None:
            lines.append(line)
    if lines:
        blocks.append((title, "\n".join(lines)))
    return [(t, j) for t, j in blocks if j.strip().startswith("{")]


def test_cli_deploy_dry_run_prints_requests_that_parse_as_the_real_types(capsys):
    argv = ["vertex", "deploy", "--project=p1", "--model-dir=gs://b/models/m1", "--tf-version=2.21.0"]
    argv += [f"--serving-image={TF_SERVING}", "--new-version", "--traffic-percent=10", "--dry-run"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("# copy gs://b/models/m1/* -> gs://b/models/m1.serving/1/")
    blocks = _json_blocks(out)
    types = [UploadModelRequest, GetEndpointRequest, DeployModelRequest]
    assert len(blocks) == len(types)
    parsed = [kind.from_json(text) for kind, (_, text) in zip(types, blocks, strict=True)]
    assert parsed[0].model.container_spec.image_uri == TF_SERVING
    assert dict(parsed[2].traffic_split) == {"0": 10, "DEPLOYED_MODEL_ID": 90}
    assert "nothing submitted" in out


def test_cli_predict_dry_run_prints_the_request_and_sends_nothing(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setattr("vertex.jobs._client", lambda *a: pytest.fail("a dry run built a client"))
    image = tmp_path / "frame.jpg"
    image.write_bytes(b"\xff\xd8\xff not really a jpeg")
    assert main(["vertex", "predict", "--project=p1", "e1", str(image), "--dry-run"]) == 0
    out = capsys.readouterr().out
    (block,) = _json_blocks(out)
    request = PredictRequest.from_json(block[1])
    assert request.endpoint == f"{PARENT}/endpoints/e1"
    assert base64.b64decode(request.instances[0]["image_bytes"]["b64"]) == image.read_bytes()
    assert main(["vertex", "predict", "--project=p1", "e1", "gs://b/f.jpg", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert RawPredictRequest.from_json(_json_blocks(out)[0][1]).http_body.content_type == "application/json"
    assert '{"signature_name": "predict_paths", "instances": [{"image_paths": "gs://b/f.jpg"}]}' in out


def test_cli_predict_says_what_is_wrong(capsys):
    assert main(["vertex", "predict", "--project=p1", "e1", "/no/such/frame.jpg", "--dry-run"]) == 2
    assert "cannot read /no/such/frame.jpg" in capsys.readouterr().err


def _doc_commands() -> list[list[str]]:
    """The `firewatch vertex ...` commands of docs/vertex-endpoint.md, continuation lines joined."""
    import shlex

    text = (Path(__file__).resolve().parents[2] / "docs" / "vertex-endpoint.md").read_text()
    text = text.replace("\\\n", " ").replace("$SERVING", TF_SERVING)
    return [shlex.split(line, comments=True) for line in text.splitlines() if line.startswith("firewatch vertex")]


def test_the_documented_commands_parse_and_validate():
    from firewatch.cli.dispatch import build_parser
    from firewatch.config.options import config_from_args

    commands = _doc_commands()
    assert [c[2] for c in commands] == ["deploy", "deploy", "predict", "predict"]
    for argv in commands:
        args = build_parser().parse_args(argv[1:])
        config = config_from_args(VertexDeployConfig if argv[2] == "deploy" else VertexPredictConfig, args)
        if argv[2] == "deploy":
            endpoint.deploy_plan(config.model_copy(update={"tf_version": "2.21.0"}))
