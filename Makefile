# fraudchannel developer tasks. `make run` and `make test` set everything up themselves.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python >= 3.11 is required (PYTHON=$(PYTHON))" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
	$(BIN)/uv pip sync --quiet -p $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet -p $(BIN)/python --no-deps -e .
	@touch $@

install: $(STAMP) ## create .venv and install the locked dependencies

lock: ## re-resolve requirements.lock from pyproject.toml
	test -x $(BIN)/uv || { $(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install -q uv; }
	$(BIN)/uv pip compile pyproject.toml --extra embedded --group dev --python-version 3.11 \
	  -o requirements.lock -q

run: $(STAMP) ## serve on 127.0.0.1:8080 (embedded PostgreSQL unless DATABASE_URL is set)
	$(BIN)/fraudchannel serve

migrate: $(STAMP) ## apply pending migrations
	$(BIN)/fraudchannel migrate

test: $(STAMP) schemas-check ## all tests; embedded PostgreSQL unless DATABASE_URL is set
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

FUZZ_ROUNDS ?= 5
fuzz: $(STAMP) ## property tests with fresh random examples, FUZZ_ROUNDS times (make test repeats the same ones)
	for round in $$(seq $(FUZZ_ROUNDS)); do \
	  $(BIN)/pytest -q -p no:cacheprovider --hypothesis-profile=fuzz \
	    $$(grep -rl '@given' tests/unit) || exit 1; \
	done

lint: $(STAMP) ## ruff, ruff format --check, mypy --strict, hadolint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint --failure-threshold warning Dockerfile

fmt: $(STAMP) ## format and autofix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schemas: $(STAMP) ## regenerate schemas/ from the pydantic models
	$(BIN)/python -m fraudchannel.schemas write

schemas-check: $(STAMP) ## fail when schemas/ differs from the models
	$(BIN)/python -m fraudchannel.schemas check

demo: $(STAMP) ## submit examples/ to a running `make run` (see README)
	$(BIN)/python scripts/demo.py

bench: $(STAMP) ## ingest benchmark (prints ratios against the raw PostgreSQL limit)
	$(BIN)/python bench/ingest.py

bench-phases: $(STAMP) ## where ingest time goes: wall and CPU per report of every step
	$(BIN)/python bench/ingest_phases.py --explain

bench-canonical: $(STAMP) ## URL canonicalisation: microseconds per URL beside the bare ada parse
	$(BIN)/python bench/canonical.py

clean: ## remove the virtual environment and caches (keeps .data/)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

.PHONY: help install lock run migrate test fuzz lint fmt schemas schemas-check demo bench bench-phases bench-canonical clean
