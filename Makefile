# The two commands: `make run` (the main job on the embedded default data) and `make test`.
# Each brings a fresh clone to a working state by itself: platform check, .venv, then the job.
# `make` alone (or `make help`) lists the targets: the `## ` text beside each, else the start
# of the comment above it.
SHELL := /bin/bash
# The interpreter .venv is created with, once: Python 3.11 (e.g. make run PYTHON=python3.11).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.test-installed
# Every generated file goes under $(WORK); Python derives the folders in it (common/layout.py).
WORK ?= work
# The data: the embedded synthetic set of size SIZE (tiny, default, ml-1m) generated with
# SEED, or, when RAW is given, a folder of real data (e.g. RAW=work/raw/real/ml-100k).
SIZE ?= default
SEED ?= 42
RAW ?=
ARGS ?=

# tf.Transform's layer is a Keras 2 model: every process must start with legacy Keras.
export TF_USE_LEGACY_KERAS := 1
export PYTHONPATH := $(CURDIR)
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: setup platform browser run report serve test test-fast data fetch bench bench-data bench-model bench-sequence bench-origin kubeflow clean

.DEFAULT_GOAL := help
.PHONY: help

help: ## list the targets (this)
	@awk '/^#/ { sub(/^# ?/, ""); c = c (c ? " " : "") $$0; next } \
	     /^[a-z][a-z-]*:/ && !/:=/ { t = $$0; sub(/:.*/, "", t); d = $$0; \
	       if (sub(/.*## /, "", d)) c = d; else if (match(c, /[.:;] /)) c = substr(c, 1, RSTART - 1); \
	       printf "  make %-15s %s\n", t, c } \
	     { c = "" }' $(firstword $(MAKEFILE_LIST))

setup: $(STAMP) ## the platform check and .venv with the pinned TFX stack (the targets that run code run it)

platform: ## check that this machine can run the TFX 1.21 wheels (glibc, libstdc++)
	@scripts/check_platform.sh

# Re-created whenever requirements.txt or constraints.txt changes.
$(STAMP): requirements.txt constraints.txt | platform
	@scripts/check_platform.sh --python "$(PYTHON)"
	@echo "make: installing the pinned TFX stack into $(VENV) (about 2 minutes)..."
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip==26.3
	$(VENV)/bin/pip install -q -r requirements.txt -c constraints.txt
	touch $(STAMP)

# Test-only packages (requirements-test.txt), on top of the pinned stack.
$(TEST_STAMP): requirements-test.txt $(STAMP)
	$(VENV)/bin/pip install -q -r requirements-test.txt -c constraints.txt
	touch $(TEST_STAMP)

run: platform $(STAMP) ## the pipeline end to end on SIZE (or RAW) data, then its report and summary
	$(PY) -m runners.run_local --work-dir $(WORK) $(if $(RAW),--raw $(RAW),--size $(SIZE)) --seed $(SEED) $(ARGS)

# Only the raw synthetic data, where `make run` with the same SIZE and SEED reads it.
data: platform $(STAMP) ## only the raw synthetic data of SIZE and SEED
	$(PY) -m data.cli generate --work-dir $(WORK) --size $(SIZE) --seed $(SEED)

# make fetch DATASET=ml-1m|ml-100k|ml-10m|ml-20m|ml-25m|ml-latest|ml-latest-small|imdb
# [SOURCE=dir-with-the-files]: into $(WORK)/raw/real/
DATASET ?= ml-1m
fetch: platform $(STAMP) ## download DATASET (ml-1m, ml-100k, ml-10m, ..., ml-latest-small, imdb) into WORK/raw/real/
	$(PY) -m data.cli fetch --work-dir $(WORK) --dataset $(DATASET) $(if $(SOURCE),--source $(SOURCE))

# The scale benchmark: the whole pipeline at 0.1x, 0.3x and 1x of ML-1M's size, per component
# wall time and peak RSS, a model-only re-run, the Trainer against a plain tf.data loop; writes
# the scale section of BENCHMARKS.md. Well over an hour on 2 cores; ARGS=--quick: 0.03x and 0.1x.
bench: platform $(STAMP) ## the scale benchmark (well over an hour; ARGS=--quick: 0.03x and 0.1x)
	$(PY) -m bench.scale --work-dir $(WORK) $(ARGS)

# Wall time and peak RSS of each data-stage step on the ml-1m-size synthetic data.
bench-data: platform $(STAMP) ## time and peak RSS of each data-stage step (ml-1m size)
	$(PY) -m bench.data_stage --size ml-1m --work-dir $(WORK)

# The model-quality table of BENCHMARKS.md: every baseline and the attention model (3 seeds)
# on the default data and, when fetched (make fetch DATASET=ml-100k), ML-100K. About 50 min (47.3 min on 2 cores, 2026-12-04);
# ARGS=--quick: default data, one seed (about 5 min); ARGS="--ml-100k DIR" for another folder.
bench-model: platform $(STAMP) $(TEST_STAMP) ## the model-quality table of BENCHMARKS.md (about 50 min)
	$(PY) -m bench.model --work-dir $(WORK) $(ARGS)

# The sequence model's section of BENCHMARKS.md: the pipeline with its ranking on ML-100K (when
# fetched) and the default data, 3 training seeds, then --attention-heads 0 and --sequence-length 3;
# EASE, EASE with recency, the sequence model alone (and shuffled), the pair ranker with and
# without it. ARGS=--quick: one seed, no ablations.
bench-sequence: platform $(STAMP) ## the sequence model in the pair ranker, 3 seeds and its ablations (BENCHMARKS.md)
	$(PY) -m bench.sequence --work-dir $(WORK) $(ARGS)

# The rating model's deep part on ML-100K (or the default data): the rolling origin, the learning
# rate and the recent attention, each judged on eval and on test (about 25 min).
bench-origin: platform $(STAMP) ## the rating model's deep part: rolling origin and its arms (BENCHMARKS.md)
	$(PY) -m bench.origin --work-dir $(WORK) $(ARGS)

# Rebuilds the HTML report of the latest run under $(WORK)/reports/.
report: platform $(STAMP) ## rebuild the HTML report of the latest run
	$(PY) -m report.report --work-dir $(WORK)

# The recommendation service on 127.0.0.1:$(PORT) (OpenAPI docs at /docs): the newest pushed
# model, swapped for a newer one without a restart. Stop it with Ctrl-C.
# ARGS="--popular N --near M" or ARGS=--all-movies: which unseen movies a request scores.
PORT ?= 8000
serve: platform $(STAMP) ## the recommendation service on 127.0.0.1:PORT (default 8000)
	$(PY) -m serving.serve --work-dir $(WORK) --host 127.0.0.1 --port $(PORT) $(ARGS)

# The report test opens the report in Debian's headless Chromium.
browser: ## install the headless Chromium the report test uses
	@scripts/install_chromium.sh

# Compiles the pipeline for Kubeflow Pipelines; settings in runners/kubeflow.toml.
kubeflow: platform $(STAMP) ## compile the pipeline for Kubeflow (runners/kubeflow.toml)
	$(PY) -m runners.run_kubeflow --settings runners/kubeflow.toml --work-dir $(WORK)

# Every test, the end-to-end ones (pytest marker e2e) included, on TEST_WORKERS processes
# (pytest-xdist; tests/conftest.py groups the tests that share a pipeline run).
TEST_WORKERS ?= 2
test: platform $(STAMP) $(TEST_STAMP) browser ## every test, the end-to-end ones included
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup tests $(ARGS)

# The fast loop: everything but the tests marked e2e.
test-fast: platform $(STAMP) $(TEST_STAMP) ## every test but the e2e ones
	$(PY) -m pytest -q -m "not e2e" tests $(ARGS)

clean: ## delete the work folder (WORK, default work)
	rm -rf $(WORK)
