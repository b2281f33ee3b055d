# slowfast-lab: two commands do all the set-up.
#   make lab    create .venv on first use, install the package with its lab extras, open JupyterLab
#   make test   create/refresh .venv, install the dev extras, run lint and the whole test suite
# A second run reinstalls nothing: each install step leaves a stamp that is newer than its inputs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
# The pinned, tested torch is installed first, on its own: on a CPU-only platform this takes the
# CPU wheel; an unpinned torch would pull several GB of CUDA packages. GPU users: see README.
TORCH_SPEC ?= torch==2.13.0
CONSTRAINTS := constraints.txt
PORT ?= 8888

.PHONY: lab test lint format book classroom chromium bench clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.stamp-torch: | $(BIN)/python
	$(PIP) install $(TORCH_SPEC)
	touch $@

$(VENV)/.stamp-lab: pyproject.toml $(CONSTRAINTS) $(VENV)/.stamp-torch
	$(PIP) install -c $(CONSTRAINTS) -e ".[lab]"
	touch $@

$(VENV)/.stamp-dev: pyproject.toml $(CONSTRAINTS) $(VENV)/.stamp-lab
	$(PIP) install -c $(CONSTRAINTS) -e ".[dev,lab]"
	touch $@

lab: $(VENV)/.stamp-lab
	$(BIN)/jupyter lab --notebook-dir=notebooks --port=$(PORT)

# Chromium for the browser tests (Debian package; browser downloads are impossible here).
# Where it cannot be installed, the browser tests skip with a message that says so.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "chromium could not be installed: browser tests will skip"; \
	  else echo "chromium not found and not root: browser tests will skip"; fi; }

test: $(VENV)/.stamp-dev chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q -ra --durations=15

lint:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Executed HTML copies of every lesson (fast mode unless SLOWFAST_LAB_FAST=0), into book/ (git-ignored).
book: $(VENV)/.stamp-dev
	SLOWFAST_LAB_FAST=$${SLOWFAST_LAB_FAST:-1} $(BIN)/python -m slowfast_lab book --out book

# The alpha/beta explorer as a classroom app (Voila).
classroom: $(VENV)/.stamp-lab
	$(BIN)/voila notebooks/classroom_explorer.ipynb --port=$(PORT) --no-browser

bench: $(VENV)/.stamp-dev
	$(BIN)/python -m slowfast_lab bench

clean-venv:
	rm -rf $(VENV)
