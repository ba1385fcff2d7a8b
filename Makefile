# The documented entry points: run, test, lint, bench.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: help install run test lint format bench bench-compare check clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

# The editable install maps each top-level package (dripper, dripper_testkit) when it is
# made: a new package needs it made again.
$(VENV)/.installed: pyproject.toml dripper_testkit/__init__.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed ## Create the virtual environment and install dripper

run: $(VENV)/.installed ## Migrate, load lessons/, run web + worker + beat (console SMS, sandbox clock)
	$(PY) scripts/run_local.py

# pytest exits 5 when it ran no test: that fails too, and says so (make itself exits 2).
test: $(VENV)/.installed ## The whole suite: SQLite, and PostgreSQL where TEST_DATABASE_URL is set
	@status=0; $(PY) scripts/services.py $(VENV)/bin/pytest $(PYTEST_ARGS) || status=$$?; \
	if [ $$status = 5 ]; then echo "FAILED: pytest collected no tests (exit 5)" >&2; fi; \
	exit $$status

check: $(VENV)/.installed ## Validate the course files
	DRIPPER_SANDBOX=1 $(VENV)/bin/flask --app web course check lessons/

lint: $(VENV)/.installed ## ruff (lint + format check), mypy, import layers, and the README's test references
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy dripper dripper_testkit
	$(VENV)/bin/lint-imports
	$(PY) scripts/check_promises.py

format: $(VENV)/.installed ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(VENV)/.installed ## Print the benchmark figures (tick, dispatch, classifier)
	$(PY) scripts/services.py $(PY) bench/run_all.py

bench-compare: $(VENV)/.installed ## Benchmarks of two commits in one run: make bench-compare BEFORE=ref AFTER=ref
	$(PY) scripts/services.py $(PY) bench/compare_refs.py $(BEFORE) $(or $(AFTER),HEAD) $(BENCH_ARGS)

clean: ## Remove the virtual environment and local data
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .mypy_cache
