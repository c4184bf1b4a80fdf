# The two commands a new user needs: `make demo` and `make test`. Each sets itself up from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLES := samples/photos
HOST ?= 127.0.0.1
PORT ?= 8001

.PHONY: demo test setup samples serve bench clean

$(BIN)/ingest: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
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

## The whole test suite
test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) gallery.db gallery.db-* archive/originals archive/web archive/thumbs $(SAMPLES)
