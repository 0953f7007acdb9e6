"""Which container serves an exported model on a Vertex AI endpoint (pure; no network).

Vertex AI's prebuilt TensorFlow prediction containers (`<repo>-docker.pkg.dev/vertex-ai/prediction/
tf2-cpu.2-XX:latest`, `tf2-gpu.2-XX`) stop at TensorFlow 2.15 (2.14 and 2.15 are the ones still
available; google-cloud-aiplatform 1.165 lists none newer). A SavedModel loads in a TensorFlow at least
as new as the one that wrote it, so an export from TF <= 2.15 is served by the oldest available prebuilt
container not older than it. Firewatch trains with TF 2.21 (Keras 3), which no prebuilt container
supports: such exports are served by the official TF Serving image (`tensorflow/serving:<version>`, or
`-gpu`), which the user copies to the project's Artifact Registry (`serving_image`). That container:

* runs `tensorflow_model_server` on `$(AIP_STORAGE_URI)` (Vertex AI's copy of the artifact folder;
  TF Serving reads gs:// itself) with its REST API on port 8080, the predict and health routes TF
  Serving answers (`/v1/models/firewatch:predict`, `/v1/models/firewatch`);
* needs the SavedModel in a numbered version folder, so the artifact folder is a copy of MODEL_DIR
  under `<MODEL_DIR>.serving/1/` (`artifact_folder`). The prebuilt containers read MODEL_DIR as is.

Both answer the TF Serving REST API: `{"instances": [{"image_bytes": {"b64": ...}}]}` through
`serving_default`, and `{"signature_name": "predict_paths", ...}` (rawPredict) through the paths one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREBUILT_TF = ((2, 14), (2, 15))  # prebuilt TF prediction containers still available (Vertex AI's list)
SERVING_MODEL_NAME = "firewatch"  # the model name in TF Serving's routes
SERVING_VERSION = "1"  # TF Serving's version folder in the artifact folder
SERVING_PORT = 8080


@dataclass(frozen=True)
class Container:
    """What Model.container_spec gets, and the folder Model.artifact_uri points to."""

    image_uri: str
    artifact_uri: str
    staged_from: str | None = None  # the MODEL_DIR copied to artifact_uri/1 first (custom container), or None
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    predict_route: str = ""
    health_route: str = ""
    port: int | None = None


def tf_minor(version: str) -> tuple[int, int]:
    match = re.match(r"^(\d+)\.(\d+)", version)
    if not match:
        raise ValueError(f"{version!r} is not a TensorFlow version")
    return int(match.group(1)), int(match.group(2))


def prebuilt_version(tf_version: str) -> tuple[int, int] | None:
    """The prebuilt container's TF version that serves an export of `tf_version`, or None."""
    wanted = tf_minor(tf_version)
    fitting = [v for v in PREBUILT_TF if v >= wanted and v[0] == wanted[0]]
    return min(fitting) if fitting else None


def artifact_repository(region: str) -> str:
    """The multi-region repository of the prebuilt images nearest to a Vertex AI region."""
    if region.startswith("europe"):
        return "europe-docker.pkg.dev"
    if region.startswith(("asia", "australia")):
        return "asia-docker.pkg.dev"
    return "us-docker.pkg.dev"


def artifact_folder(model_dir: str) -> str:
    """Where the custom container's artifact folder is staged: MODEL_DIR's copy lands in its `1/`."""
    return f"{model_dir.rstrip('/')}.serving"


def serving_container(
    tf_version: str, model_dir: str, region: str, *, gpu: bool, serving_image: str | None
) -> Container:
    """The prebuilt container for this TF version, else TF Serving in `serving_image` (required then)."""
    prebuilt = prebuilt_version(tf_version)
    if prebuilt is not None and serving_image is None:
        kind = "gpu" if gpu else "cpu"
        image = f"{artifact_repository(region)}/vertex-ai/prediction/tf2-{kind}.{prebuilt[0]}-{prebuilt[1]}:latest"
        return Container(image_uri=image, artifact_uri=model_dir)
    if serving_image is None:
        newest = ".".join(map(str, max(PREBUILT_TF)))
        tag = f"{'.'.join(map(str, tf_minor(tf_version)))}.0{'-gpu' if gpu else ''}"
        raise ValueError(
            f"no prebuilt Vertex AI container serves TensorFlow {tf_version} (the newest is {newest}): pass "
            f"--serving-image, the TF Serving image in your Artifact Registry, e.g. `docker pull "
            f"tensorflow/serving:{tag}` (or a newer release), tag it "
            f"REGION-docker.pkg.dev/PROJECT/REPO/tf-serving:{tag} and push it"
        )
    return Container(
        image_uri=serving_image,
        artifact_uri=artifact_folder(model_dir),
        staged_from=model_dir,
        command=("tensorflow_model_server",),
        args=(
            f"--model_name={SERVING_MODEL_NAME}",
            "--model_base_path=$(AIP_STORAGE_URI)",
            f"--rest_api_port={SERVING_PORT}",
            "--port=8500",
        ),
        predict_route=f"/v1/models/{SERVING_MODEL_NAME}:predict",
        health_route=f"/v1/models/{SERVING_MODEL_NAME}",
        port=SERVING_PORT,
    )
