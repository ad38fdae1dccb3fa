# Two commands for a fresh machine: `make run` (the app with demo data) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench setup clean screenshots chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,sandboxes]'
	touch $(STAMP)

setup: $(STAMP)

# The local demo runs with DEBUG on: plain http on 127.0.0.1, static files served by Django.
run: export DEBUG ?= 1
run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	$(PY) manage.py load_demo_channels
	$(PY) manage.py run

test: $(STAMP) lint chromium
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Debian's chromium for the browser tests (needs root when it is missing).
chromium:
	@test -x /usr/bin/chromium || .ci/install-chromium

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

# Only the browser tests, saving their screenshots over the committed ones the README shows.
screenshots: $(STAMP) chromium
	SCREENSHOT_DIR=tests/browser/screenshots $(VENV)/bin/pytest tests/browser -m browser $(PYTEST_ARGS)

# Every benchmark in turn (about 30 minutes; figures in the README), or one: `make bench BENCH=imports BENCH_ARGS=...`.
# Every module of tests/benchmarks: a new benchmark (a new platform's) runs without an entry here.
BENCH ?= $(filter-out __init__,$(basename $(notdir $(wildcard tests/benchmarks/*.py))))
bench: $(STAMP)
	set -e; for b in $(BENCH); do echo "== tests/benchmarks/$$b.py"; $(PY) -m tests.benchmarks.$$b $(BENCH_ARGS); done

clean:
	rm -rf var/db-test.sqlite3 var/test-*.sqlite3*
