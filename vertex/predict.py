"""`firewatch vertex predict ENDPOINT INPUT...`: ask a deployed model directly, without Pub/Sub.

* Local files go as bytes, through the model's `serving_default`: a `PredictRequest` whose
  instances are `{"image_bytes": {"b64": <base64 of the file>}}` (TF Serving's JSON for binary
  strings), at most `MAX_REQUEST_BYTES` of base64 per request (Vertex AI's online request limit).
* gs:// paths go through the `predict_paths` signature, which reads them in the container (the
  deployed model's service account needs read access): TF Serving picks a signature only from the
  request body's `signature_name`, which `predict` does not carry, so these are `RawPredictRequest`s
  with the body `{"signature_name": "predict_paths", "instances": [{"image_paths": "gs://..."}]}`.

Each answer is the model's `fire_probability` and `label` for the image as a whole (the whole-frame
level of the pipeline's region scoring; see docs/vertex-endpoint.md).
Building requests and reading answers needs no network; `predict` calls the endpoint.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from firewatch.core.model_contract import BYTES_INPUT, PATHS_INPUT, PATHS_SIGNATURE
from vertex.config import VertexPredictConfig
from vertex.endpoint import endpoint_name

MAX_REQUEST_BYTES = 1_400_000  # Vertex AI online prediction takes requests up to 1.5 MB
MAX_PATHS = 64  # gs:// paths per request


@dataclass(frozen=True)
class Prediction:
    input: str
    fire_probability: float
    label: str


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _batches(sizes: Sequence[int], limit: int, most: int) -> Iterator[slice]:
    start, total = 0, 0
    for i, size in enumerate(sizes):
        if i > start and (total + size > limit or i - start >= most):
            yield slice(start, i)
            start, total = i, 0
        total += size
    if start < len(sizes):
        yield slice(start, len(sizes))


def bytes_instance(data: bytes) -> dict[str, Any]:
    return {BYTES_INPUT: {"b64": base64.b64encode(data).decode("ascii")}}


def paths_body(paths: Sequence[str]) -> dict[str, Any]:
    return {"signature_name": PATHS_SIGNATURE, "instances": [{PATHS_INPUT: p} for p in paths]}


def requests(config: VertexPredictConfig, read: Callable[[str], bytes] = _read) -> list[tuple[list[str], Any]]:
    """[(the inputs it carries, PredictRequest or RawPredictRequest)], in input order."""
    from google.api.httpbody_pb2 import HttpBody
    from google.cloud.aiplatform_v1.types import PredictRequest, RawPredictRequest

    endpoint = endpoint_name(config)
    if config.inputs[0].startswith("gs://"):
        out = []
        for part in _batches([1] * len(config.inputs), MAX_PATHS, MAX_PATHS):
            paths = config.inputs[part]
            body = HttpBody(content_type="application/json", data=json.dumps(paths_body(paths)).encode())
            out.append((paths, RawPredictRequest(endpoint=endpoint, http_body=body)))
        return out
    instances = [bytes_instance(read(path)) for path in config.inputs]
    sizes = [len(i[BYTES_INPUT]["b64"]) + 32 for i in instances]
    out = []
    for part in _batches(sizes, MAX_REQUEST_BYTES, len(sizes)):
        request = PredictRequest(endpoint=endpoint)
        request.instances.extend(instances[part])  # the constructor rejects a list of struct values
        out.append((config.inputs[part], request))
    return out


def request_json(request: Any) -> str:
    """A request as printed by `--dry-run`: its REST body, plus the raw body decoded for rawPredict."""
    from vertex.jobs import to_json

    text = to_json(request)
    body = getattr(request, "http_body", None)
    if body is not None and body.data:
        text += f"\n# http_body.data (base64 above), decoded:\n{body.data.decode()}"
    return text


def read_predictions(inputs: Sequence[str], predictions: Sequence[Any]) -> list[Prediction]:
    """The endpoint's predictions (TF Serving's row format: one {fire_probability, label} per instance)."""
    if len(predictions) != len(inputs):
        raise ValueError(f"{len(inputs)} inputs but {len(predictions)} predictions")
    return [
        Prediction(path, float(p["fire_probability"]), str(p["label"]))
        for path, p in zip(inputs, predictions, strict=True)
    ]


def call(client: Any, inputs: Sequence[str], request: Any) -> list[Prediction]:
    """Send one request with a PredictionServiceClient (or a stand-in with the same methods)."""
    from google.cloud.aiplatform_v1.types import PredictRequest

    if isinstance(request, PredictRequest):
        response = client.predict(request=request)
        return read_predictions(inputs, [dict(p) for p in response.predictions])
    answer = client.raw_predict(request=request)
    return read_predictions(inputs, json.loads(answer.data)["predictions"])


def predict(config: VertexPredictConfig, client: Any = None) -> list[Prediction]:
    if client is None:
        from vertex.jobs import _client

        client = _client("PredictionServiceClient", config.region)
    return [p for inputs, request in requests(config) for p in call(client, inputs, request)]
