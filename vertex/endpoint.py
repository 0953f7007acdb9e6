"""`firewatch vertex deploy`: the Model Registry upload and the endpoint deployment, as aiplatform's own
request types, and their submission.

In order (`deploy_plan`):
1. with a custom serving container only (`vertex.serving`): copy MODEL_DIR to `<MODEL_DIR>.serving/1/`;
2. `UploadModelRequest`: a new registry model MODEL_ID, or (`new_version`) a new version of it
   (`parent_model`), with the serving container and version aliases;
3. `CreateEndpointRequest` (`create_endpoint`), or `GetEndpointRequest` when the new version takes
   less than all traffic (the other deployed models keep the rest, in their current proportions);
4. `DeployModelRequest`: dedicated replicas (machine type, min/max replicas, optional GPUs) and the
   traffic split, "0" being the version deployed now.

Ids only known once a request has run are placeholders in the printed plan, filled in on submit:
VERSION_ID (the uploaded version) and DEPLOYED_MODEL_ID (the endpoint's current deployed models).
Building the plan needs no network; `submit` calls the Vertex AI API (only with `--submit`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from firewatch.core.names import resource_path
from vertex.config import VertexDeployConfig
from vertex.jobs import parent
from vertex.serving import SERVING_VERSION, Container, serving_container

VERSION_PLACEHOLDER = "VERSION_ID"
DEPLOYED_PLACEHOLDER = "DEPLOYED_MODEL_ID"
NEW_DEPLOYMENT = "0"  # the traffic_split key of the model being deployed (DeployModelRequest)


def resource(config: Any, kind: str, name: str) -> str:
    """A full resource name from an id (or a full name, returned as is)."""
    return resource_path(kind, name, config.project, config.region)


def model_name(config: VertexDeployConfig) -> str:
    return resource(config, "models", config.model_id)


def endpoint_name(config: Any) -> str:
    return resource(config, "endpoints", config.endpoint)


def container(config: VertexDeployConfig) -> Container:
    return serving_container(
        config.tf_version,
        config.model_dir,
        config.region,
        gpu=config.accelerator_count > 0,
        serving_image=config.serving_image,
    )


def upload_request(config: VertexDeployConfig):
    from google.cloud.aiplatform_v1.types import Model, ModelContainerSpec, Port, UploadModelRequest

    serving = container(config)
    spec = ModelContainerSpec(image_uri=serving.image_uri)
    if serving.staged_from is not None:  # TF Serving: how to start it, where it answers
        spec.command = list(serving.command)
        spec.args = list(serving.args)
        spec.predict_route = serving.predict_route
        spec.health_route = serving.health_route
        spec.ports = [Port(container_port=serving.port)]
    model = Model(
        display_name=config.display_name or config.model_id,
        artifact_uri=serving.artifact_uri,
        container_spec=spec,
        version_aliases=list(config.version_aliases),
        version_description=f"{config.model_dir} (TensorFlow {config.tf_version})",
    )
    request = UploadModelRequest(parent=parent(config.project, config.region), model=model)
    if config.new_version:
        request.parent_model = model_name(config)
    else:
        request.model_id = config.model_id
    return request


def create_endpoint_request(config: VertexDeployConfig):
    from google.cloud.aiplatform_v1.types import CreateEndpointRequest, Endpoint

    return CreateEndpointRequest(
        parent=parent(config.project, config.region),
        endpoint=Endpoint(display_name=config.display_name or config.endpoint),
        endpoint_id=config.endpoint,
    )


def traffic_split(current: Mapping[str, int], percent: int) -> dict[str, int]:
    """The endpoint's split once the new deployment ("0") takes `percent`: the deployed models that had
    traffic share the rest in their current proportions (largest remainders), summing to 100."""
    if not 1 <= percent <= 100:
        raise ValueError(f"traffic percent {percent} is not in 1..100")
    others = {k: v for k, v in current.items() if v > 0 and k != NEW_DEPLOYMENT}
    rest = 100 - percent
    if rest and not others:
        raise ValueError(f"the endpoint serves no other model: the new version must take 100%, not {percent}%")
    total = sum(others.values())
    exact = {k: rest * v / total for k, v in others.items()} if rest else {}
    shares = {k: int(x) for k, x in exact.items()}
    for k in sorted(exact, key=lambda k: (shares[k] - exact[k], k))[: rest - sum(shares.values())]:
        shares[k] += 1
    return {NEW_DEPLOYMENT: percent, **{k: v for k, v in shares.items() if v}}


def deploy_request(config: VertexDeployConfig, version_id: str, current: Mapping[str, int]):
    from google.cloud.aiplatform_v1.types import (
        AcceleratorType,
        DedicatedResources,
        DeployedModel,
        DeployModelRequest,
        MachineSpec,
    )

    machine = MachineSpec(machine_type=config.machine_type)
    if config.accelerator_count:
        machine.accelerator_type = AcceleratorType[config.accelerator_type]
        machine.accelerator_count = config.accelerator_count
    deployed = DeployedModel(
        model=f"{model_name(config)}@{version_id}",
        display_name=config.display_name or config.model_id,
        dedicated_resources=DedicatedResources(
            machine_spec=machine, min_replica_count=config.min_replicas, max_replica_count=config.max_replicas
        ),
    )
    if config.service_account:  # reads the gs:// frames the paths signature is given
        deployed.service_account = config.service_account
    return DeployModelRequest(
        endpoint=endpoint_name(config),
        deployed_model=deployed,
        traffic_split=traffic_split(current, config.traffic_percent),
    )


@dataclass(frozen=True)
class DeployPlan:
    """Every step of `firewatch vertex deploy`, as printed (the copy) and sent (the requests)."""

    copy: tuple[str, str] | None  # (MODEL_DIR, artifact folder/1) before the upload, or None
    upload: Any
    endpoint: Any  # CreateEndpointRequest, GetEndpointRequest or None
    deploy: Any


def deploy_plan(config: VertexDeployConfig) -> DeployPlan:
    """The plan with placeholders for what only the API knows (see the module docstring)."""
    from google.cloud.aiplatform_v1.types import GetEndpointRequest

    serving = container(config)
    copy = None if serving.staged_from is None else (serving.staged_from, f"{serving.artifact_uri}/{SERVING_VERSION}")
    if config.create_endpoint:
        endpoint, current = create_endpoint_request(config), {}
    elif config.traffic_percent < 100:
        endpoint, current = GetEndpointRequest(name=endpoint_name(config)), {DEPLOYED_PLACEHOLDER: 100}
    else:
        endpoint, current = None, {}
    return DeployPlan(copy, upload_request(config), endpoint, deploy_request(config, VERSION_PLACEHOLDER, current))


def describe(plan: DeployPlan) -> str:
    """The plan as printed by `--dry-run`: each request as its REST body (proto-plus JSON)."""
    from vertex.jobs import to_json

    out = []
    if plan.copy:
        out.append(f"# copy {plan.copy[0]}/* -> {plan.copy[1]}/ (TF Serving reads numbered version folders)")
    out.append(f"# upload to the Model Registry (UploadModelRequest)\n{to_json(plan.upload)}")
    if plan.endpoint is not None:
        out.append(f"# endpoint ({type(plan.endpoint).__name__})\n{to_json(plan.endpoint)}")
    out.append(f"# deploy (DeployModelRequest)\n{to_json(plan.deploy)}")
    out.append(
        f"# {VERSION_PLACEHOLDER}: the uploaded version; {DEPLOYED_PLACEHOLDER}: the endpoint's deployed models "
        "(their current traffic split, scaled): both filled in on --submit"
    )
    return "\n".join(out)


def _client(kind: str, region: str) -> Any:
    from vertex.jobs import _client as client

    return client(kind, region)


def submit(config: VertexDeployConfig, clients: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """Copy, upload, create or read the endpoint, deploy; return (model version name, deployed model id)."""
    clients = clients or {
        "models": _client("ModelServiceClient", config.region),
        "endpoints": _client("EndpointServiceClient", config.region),
    }
    plan = deploy_plan(config)
    if plan.copy is not None:
        from firewatch.cloud.storage import download_dir, upload_dir

        upload_dir(download_dir(plan.copy[0]), plan.copy[1])
    uploaded = clients["models"].upload_model(request=plan.upload).result()
    current: dict[str, int] = {}
    if config.create_endpoint:
        clients["endpoints"].create_endpoint(request=plan.endpoint).result()
    elif config.traffic_percent < 100:
        current = dict(clients["endpoints"].get_endpoint(request=plan.endpoint).traffic_split)
    request = deploy_request(config, uploaded.model_version_id, current)
    deployed = clients["endpoints"].deploy_model(request=request).result()
    return f"{uploaded.model}@{uploaded.model_version_id}", deployed.deployed_model.id
