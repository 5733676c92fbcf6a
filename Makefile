# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Both create .venv and install the pinned dependencies themselves (needs Python 3.11+ and the package registries).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check
STAGE  ?= dev
PYTEST_ARGS ?=

.PHONY: setup test demo dev plan bench lock clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed, found " + sys.version.split()[0])'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements-dev.txt -c constraints.txt
	@touch $(STAMP)

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

demo: setup
	$(PY) -m local.demo

# The whole app locally (moto, provider stand-ins, every function, HTTP + WebSocket gateways) until Ctrl-C.
dev: setup
	$(PY) -m local up

# The offline plan of a stage: resource tree, counts and policy results under Pulumi's mocks (no cloud needed).
plan: setup
	$(PY) -m components.plan --stage $(STAGE)

# Figures and ratios measured side by side in one run (several minutes; BENCH_ARGS="--sizes 2000,10000" for a quick look).
BENCH_ARGS ?=
FUNCTIONS_BENCH_ARGS ?=
bench: setup
	$(PY) -m bench.functions_bench $(FUNCTIONS_BENCH_ARGS)
	$(PY) -m bench.migration_bench $(BENCH_ARGS)

# Re-resolve every transitive pin from the direct pins in the requirements files.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	.venv-lock/bin/pip freeze --exclude-editable | sort -f > constraints.txt
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
