# GLASS-SM: set-up and everyday commands (GNU make).
#
#   make demo    create .venv if needed, install, run every notebook on params/demo.yaml
#   make test    same set-up, then ruff and the whole test suite (2 workers)
#   make lab     register the glass-sm Jupyter kernel and start JupyterLab
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

.PHONY: demo test lab bench bench-runs lint format clean

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

test: $(STAMP)
	$(VENV_PYTHON) -m ruff check $(CODE)
	$(VENV_PYTHON) -m pytest -n 2 --dist loadfile -q

lab: $(STAMP)
	$(VENV_PYTHON) -m ipykernel install --user --name glass-sm --display-name "Python (glass-sm)"
	$(VENV)/bin/jupyter lab --no-browser $(if $(filter 0,$(shell id -u)),--allow-root)

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
