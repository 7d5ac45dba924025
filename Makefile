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
SYSTEM_BINARIES := docker-registry skopeo htpasswd openssl
SYSTEM_PACKAGES := docker-registry skopeo apache2-utils openssl
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1

.PHONY: help venv dev system-deps lint typecheck test test-fast compile-demo bench clean schema

help:
	@echo "make compile-demo   run the Customer 360 demo end to end"
	@echo "make test           lint, type-check and run the whole test suite"
	@echo "make bench          run the benchmarks under bench/"

$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.dev: $(VENV)/.base
	$(PY) -m pip install -q -e '.[dev,sigstore]'
	$(PY) -m pip install -q --only-binary=:all: $(DBT_PINS)
	touch $@

venv: $(VENV)/.base

dev: $(VENV)/.dev

# Debian packages the integration tests need; installed when missing and we are root.
system-deps:
	@missing=""; for b in $(SYSTEM_BINARIES); do \
	  command -v $$b >/dev/null 2>&1 || [ -x /usr/bin/$$b ] || missing="$$missing $$b"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing Debian packages for:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q $(SYSTEM_PACKAGES) >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null && apt-get install -y -q $(SYSTEM_PACKAGES) >/dev/null; }; \
	  else \
	    echo "missing:$$missing; install with: sudo apt-get install $(SYSTEM_PACKAGES)" >&2; exit 2; \
	  fi; \
	fi

lint: dev
	$(VENV)/bin/ruff check floe tests bench
	$(VENV)/bin/ruff format --check floe tests bench

typecheck: dev
	$(VENV)/bin/mypy --strict floe
	$(VENV)/bin/lint-imports

test: system-deps dev lint typecheck
	$(VENV)/bin/pytest -n 2 --dist loadfile

test-fast: dev
	$(VENV)/bin/pytest -x -q -m "not slow"

schema: venv
	$(FLOE) schema export --out docs/manifest.schema.json

compile-demo: dev
	./demo/run-demo.sh

bench: system-deps dev
	$(PY) bench/transfer.py
	$(PY) bench/enforce.py

clean:
	rm -rf .floe demo/.registry demo/keys build dist .pytest_cache .mypy_cache .ruff_cache
