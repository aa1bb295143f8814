# Brainfit Workbench: `make run` opens the workbench, `make test` runs the whole suite headless.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip -q

.PHONY: run test lint bench package package-test clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit("Python >= 3.11 is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PIP) install -e ".[test,dev]"
	@touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	@bash scripts/ensure_qt_libs.sh
	$(VENV)/bin/brainfit

test: $(VENV)/.installed-test
	QT_QPA_PLATFORM=offscreen LANG=C.UTF-8 $(PY) -m pytest -q -p no:cacheprovider tests

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check core workbench tests benchmarks scripts
	$(VENV)/bin/lint-imports

bench: $(VENV)/.installed-test
	$(PIP) install -e ".[bench]"
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf build dist *.egg-info .pytest_cache

# The one-folder app bundle dist/BrainfitWorkbench/ and its archive (packaging/README-PACKAGING.md)
package: $(VENV)/.installed-test
	$(PY) packaging/build.py

# Unpack the archive, run the bundled `brainfit --self-test` offscreen in a clean environment;
# `make package-test SCREENSHOT=out.png` also starts it under Xvfb and saves a screenshot.
package-test: package
	LANG=C.UTF-8 $(PY) packaging/check_bundle.py $(if $(SCREENSHOT),--screenshot $(SCREENSHOT))
