# resorb: `make demo` runs the main job end to end, `make test` runs the test suite.
# Both create the virtual environment in .venv from the pinned requirements.lock first.
# The interpreter .venv is built on: Debian's and Ubuntu's /usr/bin/python3.11 when it can
# make a venv (they build it with profile-guided and link-time optimisation and link it
# statically; pyenv's default build, a shared libpython without them, runs resorb's start-up
# 1.2x slower: docs/scoring.md "The interpreter"), else python3. `make setup PYTHON=...`
# chooses another; an existing .venv keeps its interpreter (`rm -rf .venv` first).
PYTHON ?= $(shell /usr/bin/python3.11 -c 'import ensurepip, venv' >/dev/null 2>&1 \
	&& echo /usr/bin/python3.11 || echo python3)
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv pip install --python $(BIN)/python --quiet
OUT    := out
# Where `make reference` exports the two predictors; `make demo` exports to $(OUT)/models so
# that running the demo leaves the tracked models/ (and `git status`) as they were.
MODELS ?= models
TEAM_DIR  ?= .team-server
TEAM_PORT ?= 5001

.PHONY: setup system-deps postgresql demo reference test lint bench lock clean \
	team-server team-server-stop

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Byte-compiled: with PYTHONDONTWRITEBYTECODE=1 (set on many machines and containers) an
# install without .pyc files compiles typer, pandas and scikit-learn from source at every
# start (`resorb score` of 10 rows 7 s instead of 4 s; docs/scoring.md "Start-up").
$(VENV)/.installed: $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(UV) --compile-bytecode -r requirements.lock
	$(UV) --compile-bytecode --no-deps -e .
	touch $@

# A .venv installed before the line above compiled nothing; uv compiles only what it installs.
$(VENV)/.compiled: $(VENV)/.installed
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib src >/dev/null
	touch $@

setup: $(VENV)/.compiled  ## create .venv with the pinned dependencies

# Headless Chromium for the report's browser test, Java for Spark, PostgreSQL for the team
# tracking server (Debian packages).
system-deps: postgresql
	@command -v chromium >/dev/null 2>&1 || { \
	    echo "installing Debian's chromium (browser test of the report)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@command -v java >/dev/null 2>&1 || { \
	    echo "installing a Java runtime (Spark scoring)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }

postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	    echo "installing Debian's postgresql (team tracking server)"; \
	    SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	        $$SUDO apt-get install -y -qq postgresql >/dev/null; }

# A team tracking server on 127.0.0.1:$(TEAM_PORT): PostgreSQL cluster and artifacts in
# $(TEAM_DIR)/ (scripts/team_server.sh; TEAM_AUTH=1 turns on MLflow's basic auth).
# Point resorb at it: export MLFLOW_TRACKING_URI=http://127.0.0.1:$(TEAM_PORT)
team-server: setup postgresql
	scripts/team_server.sh start $(TEAM_DIR) $(TEAM_PORT) $(if $(TEAM_AUTH),--auth)

team-server-stop:
	scripts/team_server.sh stop $(TEAM_DIR)

demo: setup  ## cohort -> fidelity -> validate -> compare -> register -> promote -> export
	@mkdir -p $(OUT)
	$(BIN)/resorb cohort generate --n 5000 --seed 2026 --preset literature --out $(OUT)/cohort.parquet
	$(BIN)/resorb cohort check --preset literature --n 200000 --seed 2026
	$(BIN)/resorb validate $(OUT)/cohort.parquet --purpose training
	$(MAKE) --no-print-directory reference MODELS=$(OUT)/models
	@echo "browse the runs: $(BIN)/resorb ui   (MLflow UI on http://127.0.0.1:5000)"

# The reference predictors: compare the candidates on the default synthetic cohort (20,000
# rows, seed 2026), register and promote the champion, export it to models/reference; then the
# same on the routine predictors (docs/predictor_sets.md), registered as another version of
# 'resorb' under the alias 'routine' and exported to models/routine ($(MODELS)/ in general).
reference: setup
	$(BIN)/resorb compare --synthetic 20000 --seed 2026 --register
	$(BIN)/resorb models promote latest --alias champion
	$(BIN)/resorb models export --alias champion --to $(MODELS) --name reference
	$(BIN)/resorb compare --synthetic 20000 --seed 2026 --predictors routine --register
	$(BIN)/resorb models promote latest --alias routine
	$(BIN)/resorb models export --alias routine --to $(MODELS) --name routine

test: setup system-deps  ## lint and run every test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest -q

bench: setup  ## run the benchmarks (figures go to docs/)
	$(BIN)/python benchmarks/bench_cohort.py
	$(BIN)/python benchmarks/bench_startup.py

lock:  ## re-pin requirements.lock from pyproject.toml (needs the registry)
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra spark --extra server --python-version 3.11 \
	    --quiet -o requirements.lock

clean:
	rm -rf $(OUT) mlruns mlflow.db mlflow.db.lock mlartifacts .pytest_cache
