# The image every component runs in on Vertex AI Pipelines (or Kubeflow):
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/mobile-deeplab-tfx:TAG .
#   docker push REGION-docker.pkg.dev/PROJECT/REPO/mobile-deeplab-tfx:TAG
# It holds the same pinned sets as `make test` (the clients venv included)
# plus this project, installed as a package, so components import the code
# the tests import. It is also a Beam SDK worker image
# (--sdk_container_image on Dataflow, DOCKER environments on Flink and
# Spark): Beam starts workers through the boot program of its own Python
# image, copied here, of the lock file's Beam (tests/test_dockerfile.py).
FROM apache/beam_python3.10_sdk:2.59.0 AS beam_sdk
FROM python:3.10-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    TF_USE_LEGACY_KERAS=1 \
    TF_CPP_MIN_LOG_LEVEL=2

WORKDIR /pipeline
COPY requirements.lock .
RUN pip install --upgrade 'pip==24.2' 'setuptools==75.1.0' 'wheel==0.44.0' \
    && pip install -r requirements.lock

# MediaPipe's metadata writer (TFLiteExport) needs its own venv: see
# clients/__init__.py.
COPY requirements-clients.lock .
RUN python -m venv /opt/venv-clients \
    && /opt/venv-clients/bin/pip install --upgrade 'pip==24.2' \
       'setuptools==75.1.0' 'wheel==0.44.0' \
    && /opt/venv-clients/bin/pip install -r requirements-clients.lock
ENV MOBILE_DEEPLAB_CLIENTS_PYTHON=/opt/venv-clients/bin/python

COPY setup.py pyproject.toml README.md ./
COPY clients clients
COPY data data
COPY components components
COPY model model
COPY pipeline pipeline
RUN pip install --no-deps .

# Vertex AI Pipelines sets each component's command, so this entrypoint
# only starts Beam workers (`--worker_pool` starts a worker pool instead).
COPY --from=beam_sdk /opt/apache/beam /opt/apache/beam
ENTRYPOINT ["/opt/apache/beam/boot"]
