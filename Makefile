# Every target sets up its own virtual environment first, so a fresh clone needs only
# Python 3.10+ and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
BROWSER_STAMP := $(VENV)/.installed-browser
# The widget tests that `make test-compat` runs against the oldest and newest ipywidgets and tqdm.
COMPAT_TESTS := tests/unit/test_widgets.py tests/integration/test_widgets.py
# The lower bounds that pyproject.toml sets for ipywidgets and tqdm, pinned: ipywidgets==8.0 ...
COMPAT_PINS_oldest = $(shell sed -n -E 's/^ *"(ipywidgets|tqdm)>=([^",;]+)".*/\1==\2/p' pyproject.toml)
COMPAT_PINS_newest = --upgrade ipywidgets tqdm

.PHONY: setup demo test test-field test-browser screenshots test-compat azurite lint bench docs clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "alloy-data needs Python 3.10 or newer"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/alloy-data demo

# One worker a core; each test file stays on one worker, so its sandbox or Dask cluster starts once.
PARALLEL := -n auto --dist loadfile

test: $(STAMP)
	$(BIN)/python -m pytest $(PARALLEL)

# The field tests that make test leaves out: full-size record counts and every fault seed.
# Each is in an xdist group (a fault seed, or the 100,000-record incremental sandbox).
test-field: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadgroup -m field

# JupyterLab, Notebook 7 and Playwright; the browser is Debian's chromium (apt-get install
# chromium chromium-driver), or the one CHROMIUM names. Playwright downloads none of its own.
$(BROWSER_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,browser]'
	touch $(BROWSER_STAMP)

test-browser: $(BROWSER_STAMP)
	$(BIN)/python -m pytest --browser tests/browser

# Refreshes docs/images/explorer.png and progress.png from the browser tests.
screenshots: $(BROWSER_STAMP)
	$(BIN)/python -m pytest --browser tests/browser/test_explorer.py --screenshots docs/images

# ipykernel too: widgets always live in a kernel, and ipywidgets 8.0 reaches its comms through it.
.venv-compat-%/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "alloy-data needs Python 3.10 or newer"'
	test -x .venv-compat-$*/bin/python || $(PYTHON) -m venv .venv-compat-$*
	.venv-compat-$*/bin/python -m pip install --quiet --upgrade pip
	.venv-compat-$*/bin/python -m pip install --quiet -e . ipykernel pytest pytest-timeout $(COMPAT_PINS_$*)
	touch $@

test-compat: .venv-compat-oldest/.installed .venv-compat-newest/.installed
	@for kind in oldest newest; do \
		.venv-compat-$$kind/bin/python -c 'import ipywidgets, tqdm; print("'$$kind': ipywidgets", ipywidgets.__version__, "tqdm", tqdm.__version__)'; \
		.venv-compat-$$kind/bin/python -m pytest -q -p no:cacheprovider $(COMPAT_TESTS) || exit 1; \
	done

# Azurite, the Azure Storage emulator, for the abfs:// tests (from npm, into the ignored .tools/;
# without it those tests skip, saying so).
azurite: .tools/azurite/node_modules/.bin/azurite-blob

.tools/azurite/node_modules/.bin/azurite-blob:
	npm install --no-audit --no-fund --silent --prefix .tools/azurite azurite@3

lint: $(STAMP)
	$(BIN)/ruff check alloy_data tests bench
	$(BIN)/ruff format --check alloy_data tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/run_all.py

docs: $(STAMP)
	$(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) .venv-compat-oldest .venv-compat-newest build dist site demo-output .pytest_cache .mypy_cache .ruff_cache *.egg-info
