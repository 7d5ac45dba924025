# Two commands on a fresh machine:
#   make compile-demo   set up .venv and run the Customer 360 loop on the embedded registry
#   make test           set up everything (venv, dev tools, Debian packages) and run all checks
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLOE := $(VENV)/bin/floe
# the newest dbt that installs here with --only-binary=:all: (1.12.1+ needs an unpublished
# parser wheel); floe[dbt] itself allows dbt-core>=1.10,<1.13
DBT_PINS := dbt-core==1.12.0 dbt-duckdb==1.11.1
# Server-warehouse plugin tests: dbt-postgres against a real PostgreSQL (Debian package).
PLUGIN_PINS := dbt-postgres==1.11.0
# binary:Debian package; only the missing ones are installed (a machine whose nodejs comes
# from NodeSource already has npm, and Debian's npm package conflicts with it)
SYSTEM_DEPS := docker-registry:docker-registry skopeo:skopeo htpasswd:apache2-utils \
  openssl:openssl pg_ctlcluster:postgresql node:nodejs npm:npm
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1

.PHONY: help venv dev dagster-venv js-deps system-deps lint typecheck test test-fast test-floor compile-demo demo-postgres bench bench-bouncer clean schema

help:
	@echo "make compile-demo   run the Customer 360 demo end to end"
	@echo "make test           lint, type-check and run the whole test suite"
	@echo "make bench          run the benchmarks under bench/"
	@echo "make bench-bouncer  floe against dbt-bouncer (its own venv) on 10,000 models"

$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.dev: $(VENV)/.base
	$(PY) -m pip install -q -e '.[dev,sigstore]'
	$(PY) -m pip install -q --only-binary=:all: $(DBT_PINS)
	$(PY) -m pip install -q --only-binary=:all: $(PLUGIN_PINS)
	touch $@

# Dagster in its own environment: its pins never touch floe's (tests load the code location
# floe writes with Dagster's own loader, as a deployment would).
DAGSTER_PINS := dagster==1.13.27 dagster-dbt==0.29.27
.venv-dagster/.done: pyproject.toml
	$(PYTHON) -m venv .venv-dagster
	.venv-dagster/bin/pip install -q --only-binary=:all: $(DAGSTER_PINS) $(DBT_PINS)
	touch $@

dagster-venv: .venv-dagster/.done

venv: $(VENV)/.base

dev: $(VENV)/.dev

# Debian packages the integration tests need; installed when missing and we are root.
system-deps:
	@missing=""; for pair in $(SYSTEM_DEPS); do b=$${pair%%:*}; p=$${pair#*:}; \
	  command -v $$b >/dev/null 2>&1 || [ -x /usr/bin/$$b ] || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q $$missing >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null && apt-get install -y -q $$missing >/dev/null; }; \
	  else \
	    echo "missing:$$missing; install with: sudo apt-get install$$missing" >&2; exit 2; \
	  fi; \
	fi

# Independent verifiers for the suite (sigstore-js, @noble/curves), pinned by tests/js's
# lockfile; `npm ci` installs exactly what the lockfile names.
JS_DEPS := tests/js/node_modules/.floe-installed
$(JS_DEPS): tests/js/package.json tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
	touch $@

js-deps: system-deps $(JS_DEPS)

lint: dev
	$(VENV)/bin/ruff check floe tests bench
	$(VENV)/bin/ruff format --check floe tests bench

typecheck: dev
	$(VENV)/bin/mypy --strict floe
	$(VENV)/bin/lint-imports

test: system-deps js-deps dev dagster-venv lint typecheck
	$(VENV)/bin/pytest -n 2 --dist loadfile

# Unit tests only (no registry, dbt, interop or slow tests): well under a minute.
test-fast: dev
	$(VENV)/bin/pytest -x -q -n 2 -m "not slow and not registry and not dbt and not interop"

# The declared dependency floors really work (cryptography 43 for deterministic ECDSA).
FLOOR_PINS := cryptography==43.0.0
test-floor: system-deps
	$(PYTHON) -m venv .venv-floor
	.venv-floor/bin/pip install -q -e '.[dev,sigstore]' $(FLOOR_PINS)
	.venv-floor/bin/pytest -q -p no:cacheprovider tests/test_keys.py tests/test_signing.py

schema: venv
	$(FLOE) schema export --out docs/manifest.schema.json

compile-demo: dev
	./demo/run-demo.sh

# The same loop on a local PostgreSQL it starts and stops, ending with the grant check.
demo-postgres: system-deps dev
	./demo/run-demo-postgres.sh

bench: system-deps dev
	$(PY) bench/transfer.py
	$(PY) bench/enforce.py
	$(PY) bench/cli.py --models-dir bench/.models $$(command -v valgrind >/dev/null && echo --valgrind)

# dbt-bouncer in its own venv (its pins must not touch floe's): the peer benchmark.
BOUNCER_VENV := bench/.venv-bouncer
DBT_BOUNCER := dbt-bouncer==4.3.0

$(BOUNCER_VENV)/.installed:
	$(PYTHON) -m venv $(BOUNCER_VENV)
	$(BOUNCER_VENV)/bin/pip install -q $(DBT_BOUNCER)
	touch $@

bench-bouncer: dev $(BOUNCER_VENV)/.installed
	$(PY) bench/bouncer.py --models 10000

clean:
	rm -rf .floe demo/.registry demo/keys build dist .pytest_cache .mypy_cache .ruff_cache
