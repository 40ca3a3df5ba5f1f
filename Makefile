# salesplan: set-up, the monthly report, tests and notebooks.
# Fresh machine with Python 3.11:  make report   (then)   make test

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
# One stamp per install set, each re-installed only when pyproject.toml changes: the monthly job
# (main dependencies), the tests and linter (.[dev,cluster,workshop]) and JupyterLab (.[lab,workshop]).
STAMP := $(VENV)/.salesplan-installed
TEST_STAMP := $(VENV)/.salesplan-installed-test
LAB_STAMP := $(VENV)/.salesplan-installed-lab
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
SANITIZE := notebooks/nbval_sanitize.cfg
# The project's Jupyter kernel, named in every notebook's metadata (salesplan.run.KERNEL_NAME).
KERNEL := salesplan
# The interpreter that creates the virtualenv: python3.11, else python3 if it is 3.11.
PYTHON ?= $(shell for p in python3.11 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; \
	then command -v $$p; break; fi; done)

export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: help setup sample-data kernel report test test-all test-lib test-slow test-notebooks notebooks lab lint format clean-reports browser openmp

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(BIN)/python:
	@if [ -z "$(PYTHON)" ]; then echo "Python 3.11 is required: install it (python3.11 on PATH) or run make PYTHON=/path/to/python3.11" >&2; exit 1; fi
	$(PYTHON) -m venv $(VENV)

# Re-install only when the package's dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,cluster,workshop,global]"
	touch $@

$(LAB_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[lab,workshop]"
	touch $@

setup: $(STAMP)  ## create .venv and install salesplan (editable) with what the monthly job needs

sample-data: $(STAMP)  ## write the sample company to data/raw/ unless orders* exports are there
	@if compgen -G "data/raw/orders*" >/dev/null; then echo "data/raw/ has orders data; keeping it"; \
	else $(BIN)/salesplan sample; fi

# The notebooks' kernel, registered in .venv (found first by the run, JupyterLab and nbval) and
# for the user (found by VS Code and a system-wide Jupyter), both starting .venv's python.
kernel: $(STAMP)  ## register the "salesplan" Jupyter kernel (.venv's python) for JupyterLab, VS Code and Jupyter
	$(BIN)/salesplan lab --register-only

report: sample-data kernel  ## run every notebook for the latest complete month; prints the report index
	$(BIN)/salesplan run

# Tests spread over TEST_JOBS processes (pytest-xdist), one test module or notebook to a
# process at a time (--dist loadscope), so a notebook's cells run in order on one kernel.
TEST_JOBS ?= 2
NBVAL := --nbval-lax --nbval-kernel-name $(KERNEL) --nbval-sanitize-with $(SANITIZE)
PYTEST := $(BIN)/pytest -p no:cacheprovider

test: $(TEST_STAMP) sample-data kernel openmp  ## library tests and every notebook under nbval, in one session (the end-to-end tests are in test-all)
	$(PYTEST) -n $(TEST_JOBS) --dist loadscope -m "not slow" $(NBVAL) tests notebooks/ notebooks/workshop/

test-all: test test-slow  ## what CI runs: make test, then the browser, JupyterLab, cluster, fault and property tests

test-lib: $(TEST_STAMP) sample-data kernel openmp  ## the library tests of make test alone
	$(PYTEST) -n $(TEST_JOBS) --dist loadscope -m "not slow" tests

test-notebooks: $(TEST_STAMP) sample-data kernel  ## every notebook under nbval alone
	$(PYTEST) -n $(TEST_JOBS) --dist loadscope $(NBVAL) notebooks/ notebooks/workshop/

# One at a time: browsers, Jupyter servers, a Dask cluster and runs killed on purpose.
test-slow: $(TEST_STAMP) sample-data kernel browser openmp  ## the end-to-end tests marked slow alone
	$(PYTEST) -m slow tests

# The browser test drives Debian's chromium; install it when missing and we may (root, apt-get).
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium for the browser test"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
			|| echo "could not install chromium: the browser test will be skipped"; \
	else echo "chromium is not installed and cannot be installed here: the browser test will be skipped"; fi

# LightGBM (the global forecast member, the `global` extra) loads the system's OpenMP runtime.
openmp:
	@if ldconfig -p 2>/dev/null | grep -q libgomp.so.1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing libgomp1 for LightGBM"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgomp1 >/dev/null; } \
			|| echo "could not install libgomp1: the global forecast member's tests will fail"; \
	else echo "libgomp1 (OpenMP) is missing and cannot be installed here: install it for LightGBM"; fi

notebooks: sample-data kernel  ## re-execute every notebook in place (committed notebooks carry fresh outputs)
	@for nb in $(NOTEBOOKS); do \
		echo "executing $$nb"; \
		$(BIN)/papermill "$$nb" "$$nb" --cwd . --kernel $(KERNEL) --no-progress-bar --log-level WARNING; \
	done

# Rooted at the project (reports/, data/, config/ in reach), opening on notebooks/; as root
# (a container) with --allow-root; the workshop solutions out of the file browser.
# make lab FOLDER=trainees/team-a opens on a workshop team's folder.
lab: $(LAB_STAMP) sample-data  ## write the sample if data/raw is empty, register the "salesplan" kernel and open JupyterLab on the project
	$(BIN)/salesplan lab $(if $(FOLDER),--folder $(FOLDER))

lint: $(TEST_STAMP)  ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(TEST_STAMP)  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean-reports:  ## delete generated reports (keeps reports/.gitkeep)
	find reports -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf {} +
