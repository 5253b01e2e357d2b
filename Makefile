# The README's two commands are `make demo` and `make test`; both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
SCAN_VENV := .venv-scan
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0

.PHONY: install demo local emulator chaos test lint types pytest sam-validate sam-build bench clean deploy user costs
.PHONY: scan cfn-lint checkov bandit pip-audit

install: $(VENV)/.installed

# The client (clients/python) is installed from its own pyproject, as its users install it; its tests and the
# demo use it.
$(VENV)/.installed: requirements-dev.txt layers/sorajobs/requirements.txt layers/sorajobs/pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -e layers/sorajobs -e clients/python
	touch $@

# aws-sam-cli pins its own boto3 and pydantic, so it lives in its own virtualenv.
$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet -r requirements-sam.txt
	touch $@

# checkov pins many libraries of its own, so the scanners live in their own virtualenv too.
$(SCAN_VENV)/.installed: requirements-scan.txt
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/pip install --quiet --upgrade pip
	$(SCAN_VENV)/bin/pip install --quiet -r requirements-scan.txt
	touch $@

# make demo PROVIDER=fal (or runway): the job names that provider; its emulator runs in the local stack.
PROVIDER ?= openai
demo: install
	$(PY) -m local.demo --provider $(PROVIDER)

# make local PORT=3001 serves the API on another port (0 picks a free one); VERBOSE=1 shows every log line.
PORT ?= 3000
local: install
	$(PY) -m local.stack --port $(PORT)$(if $(VERBOSE), --verbose)

emulator: install
	$(PY) -m local.emulator

test: lint types pytest sam-validate sam-build scan

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	PYTHONPATH=. $(VENV)/bin/lint-imports --no-cache

types: install
	$(VENV)/bin/mypy

# The console's browser test (tests/console) drives Debian's chromium through Playwright, which downloads no browser
# of its own; a machine without it gets it from apt (as root, or through sudo).
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

pytest: install $(CHROMIUM)
	$(PY) -m pytest

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium

sam-validate: $(SAM_VENV)/.installed
	$(SAM) validate --lint

# The layer and the functions ship CPython 3.13 bytecode (layers/sorajobs/runtime_bytecode.py fetches a 3.13
# into .cache/ the first time); tests/artifact then checks that every module built has it.
sam-build: $(SAM_VENV)/.installed install
	$(SAM) build
	CHECK_BUILT_ARTIFACT=1 $(PY) -m pytest -q tests/artifact

# Deploying for real (README, Deployment). The first `make deploy` asks for the stack name, region and parameters
# (sam deploy --guided) and saves the answers in $(SAMCONFIG); later ones deploy with them and ask nothing
# (GUIDED=1 asks again). It runs the SAM CLI of .venv-sam, after sam build.
SAMCONFIG ?= samconfig.toml
DEPLOY_SAVED := $(shell grep -qs '^region *=' $(SAMCONFIG) && echo saved)
deploy: sam-build
	$(SAM) deploy --config-file $(SAMCONFIG) $(if $(or $(GUIDED),$(if $(DEPLOY_SAVED),,first)),--guided,--no-confirm-changeset --no-fail-on-empty-changeset)

# make user EMAIL=someone@example.com [ADMIN=1]: a user of the deployed stack's Cognito pool (its outputs name it).
user: install
	$(if $(EMAIL),,$(error make user needs EMAIL=someone@example.com))
	$(PY) -m ops.create_user$(if $(STACK), --stack $(STACK)) --email $(EMAIL)$(if $(ADMIN), --admin)

# What a deployment costs at rest and per 1,000 jobs, computed from template.yaml (docs/costs.md holds the table).
costs: install
	$(PY) -m ops.costs

# Security scanners (docs/security.md lists every suppression and its reason).
scan: cfn-lint checkov bandit pip-audit

cfn-lint: $(SAM_VENV)/.installed
	$(SAM_VENV)/bin/cfn-lint template.yaml

checkov: $(SCAN_VENV)/.installed
	$(SCAN_VENV)/bin/checkov --config-file .checkov.yaml

bandit: $(SCAN_VENV)/.installed
	$(SCAN_VENV)/bin/bandit -c pyproject.toml -r layers/sorajobs/src functions -q

# Resolves both pinned files in a throwaway virtualenv and asks PyPI's vulnerability data about every package.
# A package PyPI has no answer for is skipped (counted on the last line); PIP_AUDIT_FLAGS=--strict fails on it.
pip-audit: $(SCAN_VENV)/.installed
	set -o pipefail; $(SCAN_VENV)/bin/pip-audit --progress-spinner off $(PIP_AUDIT_FLAGS) \
		-r layers/sorajobs/requirements.txt -r requirements-dev.txt 2>&1 \
		| awk '/could not be audited/ {n++; next} /^Name +Skip Reason/ || /^-+ +-+$$/ {next} {print} \
			END {if (n) print "pip-audit: " n " packages could not be audited (no vulnerability data from PyPI)"}'

# The chaos suite at full size (N=1,000) over several seeds, each run in its own process, two at a time;
# records each seed's table in docs/reliability.md. `make chaos SEEDS=20261123` replays one seed exactly.
CHAOS_JOBS ?= 1000
SEED_COUNT ?= 5
chaos: install
	$(PY) -m tests.chaos --jobs $(CHAOS_JOBS) $(if $(SEEDS),--seeds $(SEEDS),--seed-count $(SEED_COUNT)) --record

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(SAM_VENV) $(SCAN_VENV) .aws-sam .cache .pytest_cache .mypy_cache .ruff_cache
