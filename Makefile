# One task runner for people and CI (.ci/run calls `make test`).
# A fresh machine needs only python3.11, Java 17 + Maven (Kafka), Go (helm) and apt (Redis):
# everything else is installed here, pinned by uv.lock (Python) and the scripts (Kafka, helm).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
TOOLS := .cache/tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
BENCH_ARGS ?=
SOAK_ARGS ?=

.PHONY: help install services services-down test unit lint generate demo simulator clean helm chaos chaos-ci bench soak soak-quick

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(UV):
	python3.11 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The venv is rebuilt whenever the lock file changes.
$(VENV)/.installed: uv.lock pyproject.toml | $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --extra dev --python python3.11
	touch $@

install: $(VENV)/.installed ## create .venv and install the project with its dev extras (from uv.lock)

# The bench extra (matplotlib) on top of dev; redone whenever the dev install is (which drops it).
$(VENV)/.installed-bench: $(VENV)/.installed
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --extra dev --extra bench --python python3.11
	touch $@

services: ## start local Kafka and Redis if they are not running
	scripts/services.sh up

services-down: ## stop local Kafka and Redis
	scripts/services.sh down

bench: $(VENV)/.installed-bench services ## benchmarks -> docs/benchmarks.md (~22 min; BENCH_ARGS=--quick: ~9)
	$(PY) bench/run_all.py $(BENCH_ARGS)

helm: ## build helm (Go module proxy) into .cache/tools once; the chart tests use it
	scripts/helm.sh

test: install services helm ## the whole suite, against real Kafka, Redis and the simulator
	$(VENV)/bin/gateway schemas --check
	$(PY) -m pytest $(PYTEST_ARGS)

unit: install ## unit tests only (nothing running needed)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lint: install ## ruff and mypy
	$(VENV)/bin/ruff check gateway tests scripts bench chaos rigkit
	$(VENV)/bin/ruff format --check gateway tests scripts bench chaos rigkit
	$(VENV)/bin/mypy gateway

generate: install ## regenerate the vendor endpoint modules from the spec
	$(PY) scripts/gen_vendor_endpoints.py

chaos: install services ## chaos suite under load, audited (CHAOS_ARGS="--reduced", "--case NAME")
	$(PY) chaos/run.py $(CHAOS_ARGS)

# The full suite takes ~25 minutes here, over the 10 a CI addition may take; CI runs this one.
chaos-ci: install services ## the reduced chaos suite, fixed seed, as CI runs it after `make test` (~6 min)
	$(PY) chaos/run.py --ci --reduced --strict --seed 7 --out chaos/results/ci

# Not in CI: an hour of mixed load on the three roles, sampled every 10 s and plotted
# (docs/soak/), judged on the trends after the warm-up and on the audit (chaos/README.md).
soak: install $(VENV)/.installed-bench services ## 60 min soak of every role, sampled, plotted, audited (~65 min)
	$(PY) chaos/soak.py --minutes 60 $(SOAK_ARGS)

soak-quick: install $(VENV)/.installed-bench services ## the soak for 10 minutes (~12 min), a quick check
	$(PY) chaos/soak.py --minutes 10 $(SOAK_ARGS)

demo: install services ## the whole loop on this machine: simulator, gateway, Kafka
	$(VENV)/bin/gateway demo

simulator: install ## run the vendor simulator on 127.0.0.1:9610
	$(VENV)/bin/gateway simulator

clean: ## remove the venv and caches (not the Kafka jars)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
