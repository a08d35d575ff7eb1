# The image every component runs in on Vertex AI Pipelines (or Kubeflow):
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/mobile-deeplab-tfx:TAG .
#   docker push REGION-docker.pkg.dev/PROJECT/REPO/mobile-deeplab-tfx:TAG
# It holds the same pinned set as `make test` plus this project, installed as
# a package, so components import the code the tests import.
FROM python:3.10-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    TF_USE_LEGACY_KERAS=1 \
    TF_CPP_MIN_LOG_LEVEL=2

WORKDIR /pipeline
COPY requirements.lock .
RUN pip install --upgrade 'pip==24.2' 'setuptools==75.1.0' 'wheel==0.44.0' \
    && pip install -r requirements.lock

COPY setup.py pyproject.toml README.md ./
COPY data data
COPY components components
COPY model model
COPY pipeline pipeline
RUN pip install --no-deps .
