# resorb: `make demo` runs the main job end to end, `make test` runs the test suite.
# Both create the virtual environment in .venv from the pinned requirements.lock first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv pip install --python $(BIN)/python --quiet
OUT    := out

.PHONY: setup demo test lint bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(UV) -r requirements.lock
	$(UV) --no-deps -e .
	touch $@

setup: $(VENV)/.installed  ## create .venv with the pinned dependencies

demo: setup  ## synthetic cohort -> fidelity check -> validation
	@mkdir -p $(OUT)
	$(BIN)/resorb cohort generate --n 5000 --seed 2026 --preset literature --out $(OUT)/cohort.parquet
	$(BIN)/resorb cohort check --preset literature --n 200000 --seed 2026
	$(BIN)/resorb validate $(OUT)/cohort.parquet --purpose training

test: setup  ## lint and run every test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest -q

bench: setup  ## run the benchmarks (figures go to docs/)
	$(BIN)/python benchmarks/bench_cohort.py

lock:  ## re-pin requirements.lock from pyproject.toml (needs the registry)
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra spark --python-version 3.11 \
	    --quiet -o requirements.lock

clean:
	rm -rf $(OUT) mlruns mlflow.db mlartifacts .pytest_cache
