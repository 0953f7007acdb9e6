"""A stand-in for TF Serving's REST predict API (row format), for offline tests of endpoint requests.

What TF Serving (and so a Vertex AI endpoint serving a SavedModel) does with a JSON body: picks the
signature named by `signature_name` (default `serving_default`); reads `instances` row by row, each an
object of named inputs, or a bare value when the signature has one input; decodes `{"b64": ...}` to
bytes for string inputs; stacks the rows into one batch; answers `{"predictions": [...]}`, one object of
named outputs per row (strings as UTF-8 text). Anything else is rejected here, as it would be there.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any


def _value(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) != {"b64"}:
            raise ValueError(f"an object value must be {{'b64': ...}}, got keys {sorted(value)}")
        return base64.b64decode(value["b64"], validate=True)
    if not isinstance(value, str):
        raise ValueError(f"the firewatch signatures take strings, got {type(value).__name__}")
    return value.encode()


def serve(loaded: Any, body: dict[str, Any]) -> dict[str, Any]:
    """`POST /v1/models/M:predict` with `body`, on a `tf.saved_model.load`ed model."""
    import tensorflow as tf

    unknown = set(body) - {"signature_name", "instances"}
    if unknown:
        raise ValueError(f"unexpected request fields {sorted(unknown)}")
    signature = loaded.signatures[body.get("signature_name", "serving_default")]
    _, specs = signature.structured_input_signature
    names = sorted(specs)
    columns: dict[str, list[Any]] = {name: [] for name in names}
    for instance in body["instances"]:
        if isinstance(instance, dict) and set(instance) == set(names):
            for name in names:
                columns[name].append(_value(instance[name]))
        elif len(names) == 1:
            columns[names[0]].append(_value(instance))
        else:
            raise ValueError(f"instance {instance!r} does not name the inputs {names}")
    outputs = signature(**{name: tf.constant(columns[name], specs[name].dtype) for name in names})
    rows = len(body["instances"])
    predictions = []
    for i in range(rows):
        row = {}
        for key, tensor in outputs.items():
            value = tensor.numpy()[i]
            row[key] = value.decode() if isinstance(value, bytes) else float(value)
        predictions.append(row)
    return {"predictions": predictions}


class FakeEndpoint:
    """A PredictionServiceClient stand-in: `predict` and `raw_predict` answered by `serve` on a local
    SavedModel, with the body the container gets (predict: the request's `instances` and `parameters`
    as JSON; rawPredict: the request's HTTP body as is). gs://BUCKET/... paths
    in a rawPredict body are mapped to files under `bucket_dir` (TF Serving reads Cloud Storage itself)."""

    def __init__(self, model_dir: str | Path, bucket_dir: Path | None = None) -> None:
        import tensorflow as tf

        self.loaded = tf.saved_model.load(str(model_dir))
        self.bucket_dir = bucket_dir
        self.bodies: list[dict[str, Any]] = []

    def predict(self, request: Any) -> Any:
        from google.cloud.aiplatform_v1.types import PredictRequest, PredictResponse

        sent = json.loads(PredictRequest.to_json(request, always_print_fields_with_no_presence=False))
        assert sent["endpoint"] == request.endpoint  # in the URL; Vertex AI forwards instances and parameters
        body = {key: sent[key] for key in ("instances", "parameters") if key in sent}
        self.bodies.append(body)
        answer = {**serve(self.loaded, body), "deployedModelId": "1"}  # as the REST client parses it
        return PredictResponse.from_json(json.dumps(answer))

    def raw_predict(self, request: Any) -> Any:
        from google.api.httpbody_pb2 import HttpBody

        assert request.http_body.content_type == "application/json"
        body = json.loads(request.http_body.data)
        self.bodies.append(body)
        local = json.loads(request.http_body.data)
        for instance in local["instances"]:
            for key, value in instance.items():
                if isinstance(value, str) and value.startswith("gs://"):
                    assert self.bucket_dir is not None
                    instance[key] = str(self.bucket_dir / value[len("gs://") :])
        return HttpBody(content_type="application/json", data=json.dumps(serve(self.loaded, local)).encode())
