# Taskplane: `make run` starts the whole stack, `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install redis-server promtool run test lint bench clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
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
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .

bench: install redis-server  ## bench/jobs.py: Taskplane against bare Celery and Flask
	@command -v wrk >/dev/null 2>&1 || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q wrk; }
	$(BIN)/python bench/jobs.py $(BENCH_ARGS)

clean:
	rm -rf var .pytest_cache .ruff_cache
