# Two commands for a fresh machine (see README.md):
#   make quickstart   build what is missing, start the local sandbox, deploy the quickstart
#   make test         every test: lint, types, unit tier, e2e tier on the sandbox
# Both create the virtualenv on first use (pip from PyPI) and are safe to re-run.

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: quickstart test lint unit e2e venv clean-sandbox

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

quickstart: $(STAMP)
	$(VENV)/bin/helm-enterprise quickstart

lint: $(STAMP)
	$(PY) -m ruff check helm_enterprise tests benchmarks examples
	$(PY) -m ruff format --check helm_enterprise tests benchmarks examples
	$(PY) -m mypy

unit: $(STAMP)
	$(PY) -m pytest tests/unit -q

# The e2e tier starts the sandbox itself (building the toolchain on a fresh machine:
# about half an hour of compiling on 2 cores, then cached in ~/.cache/helm-enterprise).
# Two workers share one sandbox; a test file stays on one worker (--dist loadfile), so the
# tests that stop a shared component (Git host down, cluster b's outage) only disturb the
# tests of their own file. E2E_WORKERS=0 runs them one after another.
E2E_WORKERS ?= 2
e2e: $(STAMP)
	$(VENV)/bin/helm-enterprise sandbox toolchain
	$(PY) -m pytest tests/e2e -q -m e2e -n $(E2E_WORKERS) --dist loadfile

test: lint unit e2e

clean-sandbox: $(STAMP)
	$(VENV)/bin/helm-enterprise sandbox down --purge
