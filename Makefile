# Taskplane: `make run` starts the whole stack, `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install redis-server promtool run test lint bench clean

$(STAMP): setup.cfg pyproject.toml client/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools
	$(BIN)/pip install --quiet -e ./client -e '.[test]'  # the bindings first: the server needs them
	touch $(STAMP)

install: $(STAMP)  ## create the venv and install Taskplane with its test tools

redis-server:  ## install redis-server from Debian's packages when it is missing
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "installing redis-server"; \
	  $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q --no-install-recommends redis-server; }

promtool:  ## install Prometheus's promtool from Debian's packages when it is missing
	@command -v promtool >/dev/null 2>&1 || { \
	  echo "installing prometheus (for promtool)"; \
	  $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q --no-install-recommends prometheus; }

run: install redis-server  ## web, worker, beat and Flower on this machine (Ctrl-C stops all)
	$(BIN)/taskplane dev

test: install redis-server promtool  ## lint, then the whole suite against real Redis and a real worker
	$(BIN)/ruff check .
	$(BIN)/python -m tests.passes $(PYTEST_ARGS)  # one pytest per database, side by side

lint: install
	$(BIN)/ruff check .

BENCH_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/postgres

bench: install redis-server  ## bench/jobs.py on SQLite, then on PostgreSQL when BENCH_POSTGRES_URL answers
	@command -v wrk >/dev/null 2>&1 || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q wrk; }
	$(BIN)/python bench/jobs.py $(BENCH_ARGS)
	@if $(BIN)/python -c "import sqlalchemy as sa, sys; sa.create_engine(sys.argv[1].replace('postgresql://', 'postgresql+psycopg://', 1)).connect().close()" '$(BENCH_POSTGRES_URL)' 2>/dev/null; then \
	  $(BIN)/python bench/jobs.py --database '$(BENCH_POSTGRES_URL)' $(BENCH_ARGS); \
	else echo "PostgreSQL does not answer at $(BENCH_POSTGRES_URL): its run is skipped"; fi

clean:
	rm -rf var .pytest_cache .ruff_cache
