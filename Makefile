# GLASS-SM: set-up and everyday commands (GNU make).
#
#   make demo    create .venv if needed, install, run every notebook on params/demo.yaml
#   make test    same set-up (and Debian's chromium for the browser tests, where apt-get can
#                run), then ruff and the whole test suite (2 workers)
#   make lab     register the glass-sm Jupyter kernel in the venv and start JupyterLab
#   make bench   run the benchmarks (benchmarks/run_all.py)
#   make bench-runs  time the whole demo from nothing and the test suite (about 20 minutes)
#   make lint    ruff check + format check;  make format: fix what ruff can
#   make clean   remove run outputs (outputs/*, keeping outputs/README.md)
#
# PYTHON picks the interpreter that creates the venv: make test PYTHON=python3.12
# TORCH_INDEX takes torch from another wheel index first, e.g. the CPU build on Linux x86_64
# (PyPI's wheel there is the CUDA build): make test TORCH_INDEX=https://download.pytorch.org/whl/cpu

PYTHON ?= python3
TORCH_INDEX ?=
TORCH_PIN := torch==2.13.0
VENV ?= .venv
VENV_PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CODE := $(wildcard src tests notebooks benchmarks)

.PHONY: demo test browser lab bench bench-runs lint format clean

# The environment is (re)built when pyproject.toml or requirements-nodeps.txt change. The
# last step installs data-only wheels without their declared dependencies (see that file).
$(STAMP): pyproject.toml requirements-nodeps.txt
	test -x $(VENV_PYTHON) || $(PYTHON) -m venv $(VENV)
	$(VENV_PYTHON) -m pip install --upgrade pip
	$(if $(TORCH_INDEX),$(VENV_PYTHON) -m pip install --index-url $(TORCH_INDEX) "$(TORCH_PIN)")
	$(VENV_PYTHON) -m pip install -e ".[dev]"
	$(VENV_PYTHON) -m pip install --no-deps -r requirements-nodeps.txt
	touch $@

demo: $(STAMP)
	$(VENV_PYTHON) -m helpers.pipeline params/demo.yaml

test: $(STAMP) browser
	$(VENV_PYTHON) -m ruff check $(CODE)
	$(VENV_PYTHON) -m pytest -n 2 --dist loadfile -q

# Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium; it never
# downloads a browser). Installed as root or with password-less sudo; elsewhere the browser
# tests skip and say so.
BROWSER_PACKAGES := chromium chromium-driver
SUDO := $(if $(filter 0,$(shell id -u)),,sudo -n)
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && { [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then \
	  echo "installing $(BROWSER_PACKAGES) for the browser tests"; \
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	    --no-install-recommends $(BROWSER_PACKAGES) >/dev/null; } \
	  || echo "note: $(BROWSER_PACKAGES) could not be installed; the browser tests will skip"; \
	else echo "note: no chromium and no apt-get as root here; the browser tests will skip"; fi

lab: $(STAMP)
	$(VENV_PYTHON) -m helpers.lab

bench: $(STAMP)
	$(VENV_PYTHON) benchmarks/run_all.py

bench-runs: $(STAMP)
	$(VENV_PYTHON) benchmarks/whole_runs.py

lint: $(STAMP)
	$(VENV_PYTHON) -m ruff check $(CODE)
	$(VENV_PYTHON) -m ruff format --check $(CODE)

format: $(STAMP)
	$(VENV_PYTHON) -m ruff check --fix $(CODE)
	$(VENV_PYTHON) -m ruff format $(CODE)

clean:
	find outputs -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
