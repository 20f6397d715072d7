# The two quick-start commands are `make dev` and `make test`; both install
# what they need (system packages through compose/bootstrap.sh, Python
# packages into .venv/) the first time.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8080
ARGS ?=

.PHONY: dev test lint typecheck unit integration e2e bootstrap venv bench clean

dev: bootstrap venv
	$(BIN)/orchestration dev --port $(PORT) $(ARGS)

test: bootstrap venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

unit: venv
	$(BIN)/pytest -m unit

integration: bootstrap venv
	$(BIN)/pytest -m "integration or e2e"

lint: venv
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

bootstrap:
	@bash compose/bootstrap.sh

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

bench: bootstrap venv
	$(BIN)/python benchmarks/expr.py
	$(BIN)/python benchmarks/matching.py
	$(BIN)/python benchmarks/engine.py

clean:
	rm -rf $(VENV) .orchestration .pytest_cache .mypy_cache .ruff_cache compose/kafka/target
