# One target per level (STYLE.md). Every target installs first; the install is
# skipped while .venv is newer than pyproject.toml (stamp file).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.lifeline-installed
PYTEST_ARGS ?= -q
RUN_ARGS ?=

# pytest exits 5 when it collects nothing (an empty level is not a failure here).
define pytest
	@$(BIN)/pytest $(PYTEST_ARGS) $(1); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "no tests collected in: $(or $(1),tests)"; exit 0; fi; exit $$rc
endef

.PHONY: install run test test-unit test-integration test-e2e bench lint schema

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

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

bench: install
	@set -e; found=0; for f in $$(ls bench/bench_*.py 2>/dev/null | sort); do \
		found=1; echo "== $$f"; $(BIN)/python -m bench.$$(basename $$f .py); \
	done; [ $$found -eq 1 ] || echo "no bench/bench_*.py yet"

lint: install
	$(BIN)/ruff check .

schema: install
	$(BIN)/python -m lifeline_events.schema_export schema/
