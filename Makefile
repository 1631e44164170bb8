# `make dev` runs Herald; `make test` runs every check. Both set themselves up on a fresh machine.
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: dev test test-fast lint bench lock screenshots

dev: $(STAMP)
	$(BIN)/herald dev

# Everything: the checks, then every test (real Temporal servers, SQLite and PostgreSQL, the
# console in Debian's Chromium).
test: $(STAMP) lint
	scripts/ensure-postgres
	scripts/ensure-chromium
	$(BIN)/pytest

# The console's pictures in docs/console/: every page at 1440 and 390 pixels wide.
screenshots: $(STAMP)
	scripts/ensure-chromium
	HERALD_SCREENSHOTS=docs/console $(BIN)/pytest tests/console/test_pages.py -p no:cacheprovider -q

# The quick loop: pure unit tests, no server and no database, in seconds.
test-fast: $(STAMP)
	$(BIN)/pytest -m fast -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	scripts/ensure-postgres
	$(BIN)/python bench/events.py

# Pin every dependency again from pyproject.toml (then commit both lock files).
lock: $(STAMP)
	$(BIN)/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links \
		-o requirements.lock pyproject.toml
	$(BIN)/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links \
		--extra dev -o requirements-dev.lock pyproject.toml

# Install exactly what the lock file pins, whenever it or the package's own files change.
$(STAMP): pyproject.toml requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)
