# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint check reproduce bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/lstmctl run configs/shampoo.yaml

test: $(STAMP)
	@# The shared-study test of `lstmctl tune` needs a PostgreSQL server (Debian's package).
	-@bash scripts/test-postgres.sh install
	@# Two workers (CI has 2 cores); one file's tests stay on one worker, so the
	@# timing-sensitive signal tests never share a module-scoped fixture across processes.
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check lstmctl tests
	$(BIN)/ruff format --check lstmctl tests
	$(BIN)/mypy lstmctl

check: lint test

# Reproductions of published results: slow, never part of `make test`.
reproduce: $(STAMP)
	$(BIN)/python -m pytest -q -s -m slow

# Side-by-side timings against a plain Keras loop, PyTorch and NeuralForecast: slow, never
# in `make test`. `make bench ONLY="panel panel_training"` runs those workloads alone.
bench: $(STAMP)
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/bench.py $(ONLY)

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
