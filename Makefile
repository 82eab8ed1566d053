# Two set-up commands on a fresh clone: `make run` and `make test`. Both create .venv and install
# everything they need; the stamp file re-installs only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck importlint codegen codegen-check pytest clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade 'pip>=25.1'
	$(BIN)/python -m pip install --quiet -e . --group dev
	touch $(STAMP)

# The quickstart with no cluster: API server, controller, Envoy and two echo backends; Ctrl-C stops it.
run: $(STAMP)
	$(BIN)/contour run --quickstart -f examples/quickstart/run

test: $(STAMP) lint typecheck importlint codegen-check pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

importlint: $(STAMP)
	$(BIN)/lint-imports

codegen: $(STAMP)
	$(BIN)/python -m codegen

codegen-check: $(STAMP)
	$(BIN)/python -m codegen --check

pytest: $(STAMP)
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
