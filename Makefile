# One target per test level. Every target installs first; the install is
# skipped while .venv is newer than pyproject.toml (stamp file).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.lifeline-installed
PYTEST_ARGS ?= -q
RUN_ARGS ?=
MEMBERS := $(wildcard libs/*/pyproject.toml services/*/pyproject.toml tools/*/pyproject.toml)

# pytest exits 5 when it collects nothing (an empty level is not a failure here).
define pytest
	@$(BIN)/pytest $(PYTEST_ARGS) $(1); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "no tests collected in: $(or $(1),tests)"; exit 0; fi; exit $$rc
endef

.PHONY: install lock run test test-unit test-integration test-e2e bench chaos lint typecheck schema

install: $(STAMP)

# uv comes from the package registry into the venv itself when it is not on PATH;
# it then syncs every workspace member (editable) and the dev group from uv.lock.
$(STAMP): pyproject.toml uv.lock $(MEMBERS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install -q 'uv>=0.5'
	UV_PYTHON_DOWNLOADS=never VIRTUAL_ENV=$(abspath $(VENV)) $(BIN)/uv sync -q --all-packages --frozen --python $(BIN)/python
	@touch $(STAMP)

lock:
	@test -x $(BIN)/uv || { test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); $(BIN)/python -m pip install -q 'uv>=0.5'; }
	UV_PYTHON_DOWNLOADS=never $(BIN)/uv lock

run: install
	$(BIN)/python -m lifeline_launcher $(RUN_ARGS)

test: install
	$(call pytest,)

test-unit: install
	$(call pytest,tests/unit)

test-integration: install
	$(call pytest,tests/integration tests/contract)

test-e2e: install
	$(call pytest,tests/e2e)

# Each bench appends CPU-per-event rows to BENCH_SUMMARY; the table prints at the end.
bench: install
	@set -e; export BENCH_SUMMARY=$${BENCH_SUMMARY:-$$(mktemp /tmp/lifeline-bench-XXXXXX.jsonl)}; \
	: > $$BENCH_SUMMARY; found=0; for f in $$(ls bench/bench_*.py 2>/dev/null | sort); do \
		found=1; echo "== $$f"; $(BIN)/python -m bench.$$(basename $$f .py); \
	done; [ $$found -eq 1 ] || echo "no bench/bench_*.py yet"; $(BIN)/python -m bench.summary

# SIGKILL of every service, Valkey and PostgreSQL under load, then the log and every projection
# checked against the oracle fold (issue 11). `make test` runs a short version (300 events, each
# victim once); this one scales with CHAOS_EVENTS and CHAOS_ROUNDS and prints the figures.
chaos: install
	CHAOS_EVENTS=$${CHAOS_EVENTS:-3000} CHAOS_ROUNDS=$${CHAOS_ROUNDS:-3} \
		$(BIN)/pytest -q -s tests/integration/hostile/test_chaos.py

lint: install
	$(BIN)/ruff check .

# mypy over libs/, services/ and tools/ (settings: [tool.mypy] in pyproject.toml).
typecheck: install
	$(BIN)/mypy

schema: install
	$(BIN)/python -m lifeline_events.schema_export schema/
