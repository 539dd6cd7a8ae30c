# The project's commands. Every target first makes sure of .venv (the project installed with its
# dev extra) and of a browser, so `make e2e` / `make test` work on a fresh clone.
#
#   make e2e                  the gate: e2e tests, production timings excluded, 2 workers, headless
#   make e2e WORKERS=0        the same, serially
#   make e2e SHARD=2/3        one CI shard of it (pytest-split, by the committed .test_durations)
#   make e2e PYTEST_ARGS='-k reconnect --headed'
#   make test                 everything: tests/ (tests/api on fakeredis and real Redis), the mutant
#                             check (its control runs the e2e scenarios), the scenarios on real Redis
#
# Variables: PYTHON (makes the venv), WORKERS, TEST_WORKERS (make test's first pass), BROWSER (chromium|firefox|webkit), PYTEST_ARGS,
# REDIS_URL, REDIS_REQUIRED (non-empty: `make test` fails instead of skipping the real-Redis pass
# when no Redis answers; .ci/run and GitHub set it), JUNIT_DIR (write JUnit XML there), SERVE_ARGS,
# SHARD (INDEX/COUNT: `make e2e` runs that shard only).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV ?= .venv
WORKERS ?= 2
# make test's first pass: tests/ mostly waits (subprocess sessions, servers, timeouts), so it keeps
# more workers than cores busy (measured on 2 cores: 104-112 s at -n 4, 125-131 s at -n 2).
TEST_WORKERS ?= 4
BROWSER ?= chromium
PYTEST_ARGS ?=
SERVE_ARGS ?=
MUTANTS_ARGS ?=
REDIS_URL ?= redis://127.0.0.1:6379/0
REDIS_REQUIRED ?=
JUNIT_DIR ?=
SHARD ?=
DURATIONS ?= .test_durations

BIN := $(VENV)/bin
PYTEST := $(BIN)/python -m pytest
INSTALLED := $(VENV)/.installed
BROWSER_READY := $(VENV)/.browser-$(BROWSER)
# tests/api is where the API tests live; list it only if it exists so that pytest does not stop
# with "file or directory not found" on a tree that has none yet.
REDIS_PASS_PATHS := $(wildcard tests/api) e2e

SOAK_RUNS ?= 10
SOAK_BUSY ?=
SOAK_ARGS ?=

.PHONY: help venv check e2e e2e-production-shape durations test test-redis serve mutants bench soak lint-workflows timeline-screenshot clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z0-9-]+):.*## /  make \1\t/' | expand -t 24

# The venv and the project in it. Re-run when pyproject.toml changes (new dependency, entry point).
# pip's own output is long; -q keeps errors and drops the progress noise.
$(INSTALLED): pyproject.toml
	@test -x $(BIN)/python || { echo "make: creating $(VENV) with $$($(PYTHON) --version)"; $(PYTHON) -m venv $(VENV); }
	@echo "make: installing the project and its dev extra into $(VENV) (pip install -e '.[dev]')"
	@$(BIN)/python -m pip install --disable-pip-version-check -q -e '.[dev]'
	@touch $@

venv: $(INSTALLED) ## only create .venv and install the project (no browser)

# The quality gate: ruff (lint, then the format check) and mypy --strict over every Python folder
# (the folders are configured in pyproject.toml, so bare `ruff`/`mypy` runs check the same). Fast (mypy
# keeps a cache in .mypy_cache), so `make test` runs it first.
check: $(INSTALLED) ## ruff check, ruff format --check, mypy --strict over harness, drafts_api, e2e, tests, bench
	$(BIN)/ruff check
	$(BIN)/ruff format --check
	$(BIN)/mypy

# A browser for Playwright: its own build if installed, else a system Chromium, else install one
# (see harness/browsers/). The stamp is per browser; a browser removed later is reported by the
# pytest plugin with the same instruction.
$(BROWSER_READY): $(INSTALLED)
	@$(BIN)/python -m harness.browsers ensure --browser $(BROWSER)
	@touch $@

# The pytest commands. pytest-playwright empties its --output folder (traces, screenshots, the
# harness's SSE evidence) when a session starts, so the real-Redis pass writes to a folder of its
# own instead of wiping the first pass's evidence. JUNIT_DIR=dir adds one JUnit XML per pass.
junit = $(if $(JUNIT_DIR),--junitxml=$(JUNIT_DIR)/$(1).xml)
E2E_ARGS = e2e -m 'not slow' -n $(WORKERS) --browser $(BROWSER) $(call junit,e2e) $(PYTEST_ARGS)
# SHARD=i/N: pytest-split's group i of N (least_duration, by $(DURATIONS)); a shard that selects no
# test exits 0 with a message, the gate's JUnit merge fails when no shard ran any (scripts/shards.py).
E2E_PASS = $(if $(SHARD),$(BIN)/python scripts/shards.py run --shard '$(SHARD)' --durations $(DURATIONS) --,$(PYTEST)) \
	$(E2E_ARGS)
# The quick e2e scenarios (marked `scenario` by e2e/conftest.py) are left out: they run in the mutant
# check as its control, the same scenarios on the same stack, with their tracebacks when one fails.
FIRST_PASS_SELECTION = tests e2e -m 'slow or not scenario'
ALL_PASS = $(PYTEST) $(FIRST_PASS_SELECTION) -n $(TEST_WORKERS) --browser $(BROWSER) $(call junit,test) $(PYTEST_ARGS)
# The same e2e scenarios against the second app, examples/production_shape (its contract, its gate
# factory, its client module over the stub page); its known findings are strict expected failures.
PRODUCTION_SHAPE_ARGS = --gate-contract examples.production_shape.contract:CONTRACT \
	--backend-app examples.production_shape.gate:create_gate_app --frontend-dir examples/production_shape/frontend
SECOND_APP_PASS = $(PYTEST) e2e -m 'not slow' -n $(WORKERS) --browser $(BROWSER) $(PRODUCTION_SHAPE_ARGS) \
	--output test-results/production-shape $(call junit,e2e-production-shape) $(PYTEST_ARGS)
# Every mutant must be killed and the correct system must pass: one pytest session runs the catalogue,
# each mutant stopped at its first failing test (a kill is a kill), the control in full.
MUTANTS_PASS = $(BIN)/python -m e2e.mutants
# The Redis URL reaches pytest through the environment (SSE_GATE_REDIS_URL, exported by the recipe
# before `set -x`), not argv, so that the traced command never shows a password; messages show
# REDIS_URL_SHOWN, the URL with its password replaced (scripts/redis_reachable.py --redact).
redis_pass = $(PYTEST) $(1) -m 'not slow' -n $(WORKERS) --browser $(BROWSER) \
	--output test-results/real-redis $(call junit,test-real-redis) $(PYTEST_ARGS)
REDIS_PASS = $(call redis_pass,$(REDIS_PASS_PATHS))
# make test's: tests/api's real-Redis runs were in pass 1 (the same URL through the environment).
REDIS_E2E_PASS = $(call redis_pass,e2e)
REDIS_URL_SHOWN = $(shell $(BIN)/python scripts/redis_reachable.py --redact '$(REDIS_URL)')

e2e: $(BROWSER_READY) ## the gate: pytest e2e -m "not slow" -n WORKERS (default 2), headless; SHARD=i/N
	$(E2E_PASS)

# The durations pytest-split shards by: the gate's suite run serially (under pytest-xdist every
# worker would write the file too, racing the controller), all tests re-timed (--clean-durations).
# CI refreshes it on a schedule (.github/workflows/durations.yml); commit the result.
# The second file orders `make test`'s first pass: its long tests start first (the root conftest).
durations: $(BROWSER_READY) ## re-time the e2e suite into .test_durations (for SHARD=), make test's first pass into tests/.test_durations
	$(PYTEST) e2e -m 'not slow' -n 0 --browser $(BROWSER) --store-durations --clean-durations \
		--durations-path $(DURATIONS) $(PYTEST_ARGS)
	$(PYTEST) $(FIRST_PASS_SELECTION) -n 0 --browser $(BROWSER) --store-durations --clean-durations \
		--durations-path tests/.test_durations $(PYTEST_ARGS)

# All passes run even when one fails (the real-Redis pass tells whether a failure is Redis-specific);
# the target fails if any did. Nothing runs twice on the same stack: each app's quick e2e scenarios
# run once, as the control of its mutant check (the same scenarios; the second app's known findings
# strict expected failures; a failure is printed with its traceback), and tests/api's real-Redis
# runs are in pass 1, so pass 3 adds only the e2e scenarios on the real Redis. Both apps' catalogues
# run at once (python -m e2e.mutants: they mostly wait on timeouts, not the CPU).
# The mutant check runs before the real-Redis pass so that pytest's own summary line closes the
# output. The Redis check comes first so its verdict is printed up front, and it is repeated at the
# end when the pass was skipped.
test: check $(BROWSER_READY) ## make check, every test incl. slow ones, the mutant check (the scenarios' control), then e2e on real Redis
	@status=0; \
	if redis_error=$$($(BIN)/python scripts/redis_reachable.py '$(REDIS_URL)' 2>&1); then \
		redis=reachable; \
	elif [ -n "$(REDIS_REQUIRED)" ]; then \
		echo "make test: REDIS_REQUIRED is set, and $$redis_error"; \
		exit 1; \
	else \
		redis=""; \
		echo "make test: the real-Redis pass will be SKIPPED: $$redis_error (start redis-server, or set REDIS_URL)"; \
	fi; \
	echo "make test: pass 1 - every test in tests/ (tests/api on fakeredis$${redis:+ and on the real Redis at $(REDIS_URL_SHOWN)}) and e2e/'s slow ones"; \
	(if [ -n "$$redis" ]; then export SSE_GATE_REDIS_URL='$(REDIS_URL)'; fi; set -x; $(ALL_PASS)) || status=$$?; \
	echo "make test: pass 2 - the mutant check of both apps at once: every known-broken variant must fail the e2e suite;"; \
	echo "make test:   drafts_api's catalogue, and examples/production_shape's e2e scenarios (its control) and its generated mutants"; \
	(set -x; $(MUTANTS_PASS) --app drafts_api --app production_shape) || status=$$?; \
	if [ -n "$$redis" ]; then \
		echo "make test: pass 3 - the e2e scenarios on the real Redis at $(REDIS_URL_SHOWN)"; \
		(export SSE_GATE_REDIS_URL='$(REDIS_URL)'; set -x; $(REDIS_E2E_PASS)) || status=$$?; \
	else \
		echo "make test: real-Redis pass SKIPPED: no Redis server answered at $(REDIS_URL_SHOWN)"; \
	fi; \
	exit $$status

e2e-production-shape: $(BROWSER_READY) ## the e2e scenarios against examples/production_shape (its contract and gate factory)
	$(SECOND_APP_PASS)

test-redis: $(BROWSER_READY) ## only the real-Redis pass; fails when no Redis answers at REDIS_URL
	@$(BIN)/python scripts/redis_reachable.py '$(REDIS_URL)'
	@echo "make test-redis: $(REDIS_PASS_PATHS) on the real Redis at $(REDIS_URL_SHOWN)"
	@export SSE_GATE_REDIS_URL='$(REDIS_URL)'; set -x; $(REDIS_PASS)

serve: $(BROWSER_READY) ## backend + stub frontend with production timings (python -m harness.serve)
	$(BIN)/python -m harness.serve $(SERVE_ARGS)

mutants: $(BROWSER_READY) ## run the e2e suite against every mutant; table of killed/survived (python -m e2e.mutants)
	$(BIN)/python -m e2e.mutants $(MUTANTS_ARGS)

bench: $(BROWSER_READY) ## benchmarks (python bench/run.py)
	$(BIN)/python bench/run.py

# SOAK_RUNS=N runs; SOAK_BUSY=1 keeps one core busy during each run; SOAK_ARGS='--redis-url redis://...'.
soak: $(BROWSER_READY) ## the e2e suite SOAK_RUNS times under -n WORKERS; a table of flakes with their evidence
	$(BIN)/python scripts/soak.py --runs $(SOAK_RUNS) --workers $(WORKERS) --browser $(BROWSER) $(if $(SOAK_BUSY),--busy-core) $(SOAK_ARGS)

# actionlint comes from the dev extra (see the comment there in pyproject.toml). shellcheck is the
# venv's or none, never whatever else is on PATH, so the verdict is the same on every machine;
# pyflakes is off for the same reason (no step runs Python inline).
lint-workflows: $(INSTALLED) ## actionlint over .github/workflows
	$(BIN)/actionlint -shellcheck='$(wildcard $(BIN)/shellcheck)' -pyflakes= .github/workflows/*.yml
	@echo "make lint-workflows: no problems in $$(ls .github/workflows/*.yml | tr '\n' ' ')"

# The README's picture of the production bug: the scenario run against the client as it shipped, its
# timeline rendered in headless Chromium (python -m harness.report screenshot).
timeline-screenshot: $(BROWSER_READY) ## re-make docs/timeline-production-bug.png (the README's screenshot)
	$(BIN)/python -m harness.report screenshot docs/timeline-production-bug.png

clean: ## remove the venv and test output (the browser stays where it was installed)
	rm -rf $(VENV) test-results .soak .pytest_cache .mypy_cache .ruff_cache
