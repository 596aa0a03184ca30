# Two images of this project on the pinned TFX 1.21 stack:
#   docker build .                   the pipeline image for Kubeflow (the last stage, `pipeline`)
#   docker build --target service .  the recommendation service (python -m serving.serve)
# Debian 13 (trixie) has the glibc >= 2.39 and libstdc++ the TFX 1.21 wheels need.
# tests/test_images.py checks each stage's COPY lines against what its modules import and
# imports them from a copy of only what the stage holds.
FROM python:3.11-slim-trixie AS base

ENV TF_USE_LEGACY_KERAS=1 \
    PYTHONUNBUFFERED=1

COPY requirements.txt constraints.txt /tmp/requirements/
RUN pip install --no-cache-dir --upgrade pip==26.3 \
 && pip install --no-cache-dir -r /tmp/requirements/requirements.txt -c /tmp/requirements/constraints.txt


# The recommendation service (serving/serve.py) on port 8000. It reads a work folder mounted
# at /work, as `make run` leaves it: serving_model/ (the pushed models), metadata.sqlite and
# prepared/ (the tables of the data the pushing run read), e.g.
#   docker run -p 8000:8000 -v "$PWD/work:/work" <image>   [--popular N --near M | --all-movies]
FROM base AS service

ENV TF_USE_LEGACY_KERAS=1 \
    PYTHONPATH=/app

WORKDIR /app
COPY common/ common/
COPY components/ components/
COPY data/ data/
COPY pipeline/ pipeline/
COPY serving/ serving/
COPY trainer_fn/ trainer_fn/
COPY transform_fn/ transform_fn/

VOLUME /work
EXPOSE 8000
ENTRYPOINT ["python", "-m", "serving.serve", "--host", "0.0.0.0", "--port", "8000", "--work-dir", "/work"]


# The pipeline image for Kubeflow: the project at /pipeline, matching project_dir_in_image in
# runners/kubeflow.toml: every code folder the compiled pipeline's components import (the
# RankingEvaluator is serving/'s).
FROM base AS pipeline

ENV TF_USE_LEGACY_KERAS=1 \
    PYTHONPATH=/pipeline

WORKDIR /pipeline
COPY components/ components/
COPY common/ common/
COPY data/ data/
COPY pipeline/ pipeline/
COPY serving/ serving/
COPY transform_fn/ transform_fn/
COPY trainer_fn/ trainer_fn/
