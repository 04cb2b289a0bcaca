# jukinet — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Test processes side by side (pytest-xdist); a federation group stays in one of them.
PYTEST_WORKERS ?= 2

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[1m%-10s\033[0m %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(STAMP): $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	@touch $(STAMP)

install: $(STAMP) ## Create .venv with the locked dependencies (uv, from PyPI)

run: install ## Make the dev PKI if missing and run a local federation (Ctrl-C stops it)
	$(BIN)/python -m compileall -q libs services
	$(BIN)/jukinet up

lint: install ## ruff, mypy --strict and the import contracts
	$(BIN)/ruff check libs services tests
	$(BIN)/ruff format --check libs services tests
	$(BIN)/mypy libs services
	$(BIN)/lint-imports

test: lint ## Lint, then the whole test suite (PostgreSQL tests skip with a message if absent)
	$(BIN)/python -m compileall -q libs services
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadscope $(PYTEST_ARGS)

openapi: install ## Regenerate docs/openapi/*.json from the services (the suite checks them)
	JUKINET_WRITE_OPENAPI=1 $(BIN)/pytest -q -n 0 tests/test_openapi.py

bench: install ## Benchmarks: prints a table and writes var/bench.json
	$(BIN)/jukinet bench

clean: ## Remove the virtual environments, caches and local state
	rm -rf $(VENV) $(TOOLS) var .pytest_cache .mypy_cache .ruff_cache .hypothesis

.PHONY: help install run lint test openapi bench clean
