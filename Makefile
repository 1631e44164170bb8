# `make dev` runs Herald; `make test` runs every check. Both set themselves up on a fresh machine.
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: dev test lint bench

dev: $(STAMP)
	$(BIN)/herald dev

test: $(STAMP) lint
	scripts/ensure-postgres
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	scripts/ensure-postgres
	$(BIN)/python bench/events.py

# Reinstall whenever the dependency list changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)
