# One command to start the app (`make run`), one to run every test (`make test`), one to serve a class on the
# network (`make class`; the Dockerfile runs `make weights` and `make class` too, so the two cannot drift).
# All create .venv on first use and are quick afterwards: installs re-run only when a requirements file changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
HOST ?= 0.0.0.0

.PHONY: run class replicas test lint weights clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.app-installed: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install -r requirements.txt
	$(BIN)/pip install --no-deps --no-build-isolation -e .  # `python -m cnnviz ...` from any folder
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt $(VENV)/.app-installed
	$(BIN)/pip install -r requirements-dev.txt
	touch $@

weights: $(VENV)/.app-installed
	$(BIN)/python -m cnnviz.weights fetch

run: weights
	$(BIN)/streamlit run app.py --server.port $(PORT) --server.address localhost

# A room: every address of this machine (HOST=0.0.0.0); two malloc arenas so that memory freed when students
# leave goes back to the system (the app trims it); and torch's passes on one core fewer than the machine has,
# since the sessions' Python runs on one core at a time (the GIL): with all cores, a pass's threads and the
# sessions' Python take turns on them, and torch's threads spin while they wait (README "Serving a class").
CORES := $(shell nproc 2>/dev/null || echo 2)
CLASS_THREADS ?= $(shell [ $(CORES) -gt 1 ] && echo $$(($(CORES) - 1)) || echo 1)
class: weights
	MALLOC_ARENA_MAX=2 OMP_NUM_THREADS=$(CLASS_THREADS) \
	    $(BIN)/streamlit run app.py --server.port $(PORT) --server.address $(HOST)

# A room on several processes: REPLICAS servers (2, as measured, unless given) behind nginx, each browser kept
# on one of them by a cookie, so the sessions' Python no longer shares one interpreter lock; each replica
# holds its own models and caches, about 0.9 GB (deploy/replicas.py; needs nginx; README "Serving a class").
REPLICAS ?= 2
replicas: weights
	$(BIN)/python deploy/replicas.py --replicas $(REPLICAS) --port $(PORT) --address $(HOST)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

test: $(VENV)/.dev-installed weights lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache test-artifacts
