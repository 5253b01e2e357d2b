# The README's two commands are `make demo` and `make test`; both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0

.PHONY: install demo local emulator test lint types pytest sam-validate sam-build bench clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt layers/sorajobs/requirements.txt layers/sorajobs/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -e layers/sorajobs
	touch $@

# aws-sam-cli pins its own boto3 and pydantic, so it lives in its own virtualenv.
$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet -r requirements-sam.txt
	touch $@

demo: install
	$(PY) -m local.demo

local: install
	$(PY) -m local.stack

emulator: install
	$(PY) -m local.emulator

test: lint types pytest sam-validate sam-build

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

types: install
	$(VENV)/bin/mypy

pytest: install
	$(PY) -m pytest

sam-validate: $(SAM_VENV)/.installed
	$(SAM) validate --lint

sam-build: $(SAM_VENV)/.installed
	$(SAM) build

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
