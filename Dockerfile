# The pipeline image for Kubeflow: the pinned TFX 1.21 stack and this project.
# Debian 13 (trixie) has the glibc >= 2.39 and libstdc++ the TFX 1.21 wheels need.
FROM python:3.11-slim-trixie

ENV TF_USE_LEGACY_KERAS=1 \
    PYTHONPATH=/pipeline \
    PYTHONUNBUFFERED=1

WORKDIR /pipeline
COPY requirements.txt constraints.txt ./
RUN pip install --no-cache-dir --upgrade pip==26.3 \
 && pip install --no-cache-dir -r requirements.txt -c constraints.txt

# The project at /pipeline, matching project_dir_in_image in runners/kubeflow.toml: every code
# folder the compiled pipeline's components import (the RankingEvaluator is serving/'s);
# tests/test_images.py checks this list against the imports and imports them from a copy.
COPY components/ components/
COPY common/ common/
COPY data/ data/
COPY pipeline/ pipeline/
COPY serving/ serving/
COPY transform_fn/ transform_fn/
COPY trainer_fn/ trainer_fn/
