# ACT 3 AI credit billing - developer entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.installed
SAM_VENV := .venv-sam
SAM_CLI_VERSION := 1.170.0
SAM_STAMP := $(SAM_VENV)/.installed-$(SAM_CLI_VERSION)
SAM := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(SAM_VENV)/bin/sam
# checkov pins its own dependencies (boto3 among them): its own virtualenv, like the SAM CLI's
CHECKOV_VENV := .venv-checkov
CHECKOV_VERSION := 3.3.30
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
PY_SOURCES := layers/core/python/act3_billing functions tools tests

# `make token EMAIL=a@b.c IDP=linkedin NAME="Ann"`, `make clock ARGS="advance 31d"`
EMAIL ?=
IDP ?=
NAME ?=
ARGS ?=
# `make token CLIENT=usage-meter` / `CLIENT=billing-operations [SCOPE="billing/grants.write"]`: machine tokens
CLIENT ?=
SCOPE ?=
LOCAL_OPTS := $(if $(EMAIL),--email "$(EMAIL)") $(if $(IDP),--idp "$(IDP)") $(if $(NAME),--name "$(NAME)") $(ARGS)
TOKEN_OPTS := $(LOCAL_OPTS) $(if $(CLIENT),--client "$(CLIENT)") $(if $(SCOPE),--scope "$(SCOPE)")

.PHONY: help venv ddb localstripe test lint format typecheck cfn-lint bench build validate run stop token tick seed clock inventory clean stripe-sync
.PHONY: browser web-deploy
.PHONY: checkov infra-tools infra bench-smoke

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(VENV_STAMP): requirements-dev.txt layers/core/requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	$(BIN)/python -m pip install -q -e .
	@touch $@

venv: $(VENV_STAMP) ## create .venv with the dev dependencies and the packages (editable)

ddb: venv ## fetch and verify DynamoDB Local into .local/vendor (and Java 17 if missing)
	@$(BIN)/python -m act3_local.dynamodb_local install >&2

localstripe: venv ## localstripe in .venv-localstripe (its own venv: GPL, pins aiohttp), before tests start stacks
	@$(BIN)/python -c "from act3_local.services import ensure_localstripe; ensure_localstripe()" >&2

# Two pytest workers (xdist) for everything but the e2e folder, then the e2e folder in one process with
# one local stack on a quiet machine (xdist's loadgroup cannot keep a folder together under pytest 9: it
# sets a node attribute pytest no longer reads). `make test WORKERS=0` runs everything in one process.
WORKERS ?= 2

test: venv ddb localstripe browser ## everything: lint, types, cfn-lint, infra checks, then all tests incl. emulator and browser tests
	$(MAKE) --no-print-directory lint typecheck cfn-lint infra bench-smoke
ifeq ($(WORKERS),0)
	$(BIN)/pytest -q
else
	$(BIN)/pytest -q -n $(WORKERS) --ignore=tests/e2e
	$(BIN)/pytest -q tests/e2e
endif

lint: venv ## ruff check + ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv ## ruff fix + format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# explicit_package_bases (pyproject) names each functions/<x>/app.py as functions.<x>.app, so the
# same-named handler modules type-check together in one run.
typecheck: venv ## mypy (strict) on the package, functions, tools and tests
	$(BIN)/mypy $(PY_SOURCES)

cfn-lint: venv ## cfn-lint template.yaml
	$(BIN)/cfn-lint template.yaml

# The browser tests drive Debian's chromium through Playwright (the Python package, from PyPI via
# requirements-dev.txt); Playwright's own browser download cannot run here, so never `playwright install`.
CHROMIUM ?= /usr/bin/chromium

browser: venv ## Debian's chromium for the browser tests (apt-get when missing)
	@test -x $(CHROMIUM) || { echo "installing chromium (apt-get)" >&2; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2; }
	@$(CHROMIUM) --version >&2 2>/dev/null

web-deploy: venv ## upload web/ and its config.json to the deployed stack, invalidate CloudFront (STACK=, LINKEDIN=1, STRIPE_PK=pk_…)
	$(BIN)/python -m act3_web deploy --stack "$(or $(STACK),act3-billing)" $(if $(LINKEDIN),--linkedin) $(if $(STRIPE_PK),--stripe-publishable-key "$(STRIPE_PK)")

bench: venv ddb ## benchmarks (tests/bench); exits non-zero when one of its correctness checks fails
	@$(BIN)/python -m tests.bench

bench-smoke: venv ddb ## a small bench run (CI): every measurement once, every correctness check
	@$(BIN)/python -m tests.bench --smoke > /dev/null

# The tool virtualenvs are made once per machine (a stamp per version) and kept by `make clean`.
$(SAM_STAMP):
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install -q --disable-pip-version-check "aws-sam-cli==$(SAM_CLI_VERSION)"
	@touch $@

$(CHECKOV_STAMP):
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q --disable-pip-version-check "checkov==$(CHECKOV_VERSION)"
	@touch $@

infra-tools: ## the SAM CLI and checkov virtualenvs (installed side by side, once)
	@$(MAKE) --no-print-directory -j2 $(SAM_STAMP) $(CHECKOV_STAMP)

build: venv ## deployable artifacts in .aws-sam/build for python3.13/arm64 (no Docker, no python3.13), size-checked
	@mkdir -p .aws-sam
	$(BIN)/python -m act3_local.build template.yaml --out .aws-sam/build > .aws-sam/build-report.json \
		|| { cat .aws-sam/build-report.json; exit 1; }
	@$(BIN)/python -c "import json; r = json.load(open('.aws-sam/build-report.json')); \
		print('build: .aws-sam/build/template.yaml,', len(r['functions']), 'functions,', \
		', '.join(f'{k} {v[\"zipped_mb\"]} MB zipped / {v[\"unzipped_mb\"]} MB' for k, v in r['layers'].items()))"

validate: $(SAM_STAMP) ## sam validate --lint
	$(SAM) validate --lint

checkov: venv $(CHECKOV_STAMP) ## checkov on template.yaml: 0 failed (skips carry their reason in the template)
	$(BIN)/python -m act3_local.checkov template.yaml --checkov $(CHECKOV_VENV)/bin/checkov

infra: infra-tools ## make build, sam validate --lint and checkov (what CI runs on the template)
	$(MAKE) --no-print-directory build validate checkov

run: venv ddb ## the local stack: API on http://127.0.0.1:3000 over embedded emulators
	$(BIN)/python -m act3_local run $(LOCAL_OPTS)

stop: venv ## stop the local stack
	$(BIN)/python -m act3_local stop $(LOCAL_OPTS)

token: venv ## print a local JWT: a member's (EMAIL=, IDP=, NAME=) or a machine's (CLIENT=, SCOPE=)
	$(BIN)/python -m act3_local token $(TOKEN_OPTS)

tick: venv ## run the scheduled jobs once on the local stack
	$(BIN)/python -m act3_local tick $(LOCAL_OPTS)

seed: venv ## seed the local stack with demo data
	$(BIN)/python -m act3_local seed $(LOCAL_OPTS)

clock: venv ## show or move the local clock (ARGS="advance 31d")
	$(BIN)/python -m act3_local clock $(ARGS)

inventory: venv ## deliver S3 Inventory reports of the local buckets now (the storage meter reconciles)
	$(BIN)/python -m act3_local inventory $(LOCAL_OPTS)

stripe-sync: venv ## store the plan catalog from Stripe (the running stack's localstripe, else STRIPE_API_KEY)
	$(BIN)/python -m act3_local stripe-sync

clean: ## remove build output and caches (keeps .venv, .venv-sam and .local)
	rm -rf .aws-sam build .pytest_cache .mypy_cache .ruff_cache *.egg-info
	find . -path ./$(VENV) -prune -o -path ./$(SAM_VENV) -prune -o -name __pycache__ -type d -print0 | xargs -0 rm -rf
