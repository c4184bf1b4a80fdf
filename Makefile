# The two commands a new user needs: `make demo` and `make test`. Each sets itself up from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLES := samples/photos
HOST ?= 127.0.0.1
PORT ?= 8001

.PHONY: demo test test-datasette1 setup samples serve bench bench-scale clean lint wheel-check

$(BIN)/ingest: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip uninstall --quiet --yes ingest 2>/dev/null || true  # the distribution's former name
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip uninstall --quiet --yes datasette-auth-passwords 2>/dev/null || true  # sign-in is the plugin's own now
	touch $@

setup: $(BIN)/ingest

$(SAMPLES): scripts/make_samples.py | setup
	$(BIN)/python scripts/make_samples.py $(SAMPLES)

samples: $(SAMPLES)

## Ingest the bundled sample photos and serve the gallery on http://$(HOST):$(PORT)/
demo: setup samples
	$(BIN)/ingest demos import samples/registry.yml
	$(BIN)/ingest $(SAMPLES) --licence CC-BY-SA-4.0 --creator "Sample photographer" --publish
	$(BIN)/ingest accounts add photographer --role photographer --password "demo photographer"
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

## The plugin's tests on the Datasette 1.0 alpha (pyproject keeps users on <1.0 until 1.0 is out).
## 1.0a35 is the newest alpha datasette-cluster-map 0.18.2 works on: from 1.0a36 its map asks for
## ?_extra=next_url, which Datasette then refuses (400), and shows no markers. Another alpha:
## make test-datasette1 DATASETTE1=datasette==1.0a41 (pip warns that ingest wants datasette<1.0).
DATASETTE1 ?= datasette==1.0a35
VENV1 := .venv-dt1
DATASETTE1_TESTS := tests/test_safety.py tests/test_web.py tests/test_web_edit.py tests/test_pages.py \
	tests/test_publish.py tests/test_plugin_scope.py tests/test_accounts.py tests/test_clean_output.py \
	tests/test_clean_images.py tests/test_limits.py tests/test_zip_stream.py tests/test_review.py tests/test_faces.py \
	tests/test_gallery_front.py tests/test_search.py tests/test_upload.py tests/test_public_persist.py tests/test_bundle.py tests/test_admin_web.py tests/test_fts_internals.py

$(VENV1)/.installed-$(DATASETTE1): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV1)
	$(VENV1)/bin/pip install --quiet --upgrade pip
	$(VENV1)/bin/pip install --quiet -e '.[test]'
	$(VENV1)/bin/pip install --quiet '$(DATASETTE1)'
	rm -f $(VENV1)/.installed-*
	touch '$@'

test-datasette1: $(VENV1)/.installed-$(DATASETTE1)
	$(VENV1)/bin/python -m pytest -q $(DATASETTE1_TESTS)

bench: setup
	$(BIN)/python bench/ingest.py

bench-scale: setup
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/scale.py

clean:
	rm -rf $(VENV) $(VENV1) .venv-lint gallery.db gallery.db-* gallery.db.lock gallery.db.uploads.lock gallery.public.db* archive/originals archive/web archive/thumbs $(SAMPLES)
