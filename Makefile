# The two commands a new user needs: `make demo` and `make test`. Each sets itself up from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLES := samples/photos
HOST ?= 127.0.0.1
PORT ?= 8001

.PHONY: demo test setup samples serve bench clean lint wheel-check

$(BIN)/ingest: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip uninstall --quiet --yes ingest 2>/dev/null || true  # the distribution's former name
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

setup: $(BIN)/ingest

$(SAMPLES): scripts/make_samples.py | setup
	$(BIN)/python scripts/make_samples.py $(SAMPLES)

samples: $(SAMPLES)

## Ingest the bundled sample photos and serve the gallery on http://$(HOST):$(PORT)/
demo: setup samples
	$(BIN)/ingest demos import samples/registry.yml
	$(BIN)/ingest $(SAMPLES) --licence CC-BY-SA-4.0
	$(BIN)/ingest serve --host $(HOST) --port $(PORT)

serve: setup
	$(BIN)/ingest serve --host $(HOST) --port $(PORT)

## The whole test suite: the import rules, then every test
test: setup lint
	$(BIN)/python -m pytest -q

## Stages import downward only (.importlinter). import-linter lives in a venv of its own: it pulls in
## `rich`, and with rich installed Datasette 0.65 answers 500 instead of 404 (its handler calls
## rich's print_exception outside an except block).
LINT := .venv-lint/bin/lint-imports
$(LINT):
	$(PYTHON) -m venv .venv-lint
	.venv-lint/bin/pip install --quiet 'import-linter>=2.1'

lint: $(LINT)
	PYTHONPATH=$(CURDIR) $(LINT) --no-cache

## Build the wheel, install it in a fresh venv outside the checkout, and use it from an empty folder
wheel-check: samples
	$(BIN)/python scripts/wheel_check.py

bench: setup
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .venv-lint gallery.db gallery.db-* gallery.db.lock archive/originals archive/web archive/thumbs $(SAMPLES)
