# Two entry points for a fresh machine: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo serve test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,e2e,dask]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/optimizer demo

serve: setup
	$(BIN)/optimizer serve

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy optimizer api
	$(BIN)/lint-imports

bench: setup
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	$(BIN)/python -m experiments.bench_compliance
	$(BIN)/python -m experiments.bench_bandits
	$(BIN)/python -m experiments.bench_lead_score
	$(BIN)/python -m experiments.bench_send_time
	$(BIN)/python -m experiments.bench_api

clean:
	rm -rf var test-artifacts .pytest_cache .mypy_cache .ruff_cache
