# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Both create .venv and install the pinned dependencies themselves (needs Python 3.11+ and the package registries).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check
STAGE  ?= dev
PYTEST_ARGS ?=

.PHONY: setup site site-dev browser test demo dev plan cost rehearse policy-venv bench lock clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed, found " + sys.version.split()[0])'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements-dev.txt -c constraints.txt
	@touch $(STAMP)

# The web client (site/): `npm ci` when its lockfile changed, the type check and the Vite build into site/dist,
# stamped with a digest of its sources; `pulumi up`, the rehearsal and local mode refuse or rebuild a stale one.
site: setup
	$(PY) -m local.site_build

# Hot reload while working on the client: Vite's dev server proxying /api, /config.json and /cognito to a running
# `make dev` (LOCAL=http://127.0.0.1:<port> from its banner).
LOCAL ?=
site-dev:
	@test -n "$(LOCAL)" || { echo 'usage: make site-dev LOCAL=<the URL `make dev` printed>'; exit 2; }
	cd site && npm ci --no-audit --no-fund && MUMBLE_LOCAL_ORIGIN=$(LOCAL) npx vite

# The browser the tests drive: Debian's chromium (Playwright's own download cannot work offline), with fonts for
# Latin and Chinese text; installed with apt-get when it is missing and we are root (or may sudo).
BROWSER_PACKAGES := chromium fonts-liberation fonts-wqy-zenhei
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO=sudo; \
	  else echo "browser tests need: apt-get install $(BROWSER_PACKAGES) (not root, no sudo)"; exit 0; fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $$SUDO apt-get install -y -q $(BROWSER_PACKAGES) >/dev/null || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q $(BROWSER_PACKAGES) >/dev/null; }; \
	fi

test: setup site browser
	$(PY) -m pytest $(PYTEST_ARGS)

demo: setup
	$(PY) -m local.demo

# The whole app locally (moto, provider stand-ins, every function, HTTP + WebSocket gateways) until Ctrl-C.
dev: setup site
	$(PY) -m local up

# The offline plan of a stage: resource tree, counts and policy results under Pulumi's mocks (no cloud needed).
plan: setup site
	$(PY) -m components.plan --stage $(STAGE)

# What a stage costs a month (offline plan x usage profile x dated list prices); USAGE=my-usage.yaml overrides the
# default profile (components/cost_data/usage.yaml). COST_ARGS="--json" for CI.
USAGE ?=
COST_ARGS ?=
cost: setup site
	$(PY) -m components.cost --stage $(STAGE) $(if $(USAGE),--usage $(USAGE)) $(COST_ARGS)

# The deploy rehearsal: everything `pulumi up` does before it talks to AWS, for real (config rules, the real layer,
# Lambda's limits, pyright on the typed inputs, the policy pack as the CLI starts it, actionlint, every handler
# under CPython 3.12 from the artifacts alone). STAGE="dev staging prod" rehearses several. Needs npm and python3.12.
rehearse: setup site
	$(PY) -m rehearsal $(foreach stage,$(STAGE),--stage $(stage))

# The policy pack's own interpreter (policy/venv, named in policy/PulumiPolicy.yaml); `pulumi preview
# --policy-pack policy` needs it and does not create it.
policy-venv: policy/venv/.installed

policy/venv/.installed: policy/requirements.txt
	$(PYTHON) -m venv --clear policy/venv
	policy/venv/bin/python -m pip install --quiet --disable-pip-version-check -r policy/requirements.txt
	@touch $@

# Figures and ratios measured side by side in one run (several minutes; BENCH_ARGS="--sizes 2000,10000" for a quick look).
BENCH_ARGS ?=
FUNCTIONS_BENCH_ARGS ?=
bench: setup
	$(PY) -m bench.functions_bench $(FUNCTIONS_BENCH_ARGS)
	$(PY) -m bench.migration_bench $(BENCH_ARGS)
	$(PY) -m bench.sync_bench $(SYNC_BENCH_ARGS)

# Re-resolve every transitive pin from the direct pins in the requirements files.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	.venv-lock/bin/pip freeze --exclude-editable | sort -f > constraints.txt
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) .pytest_cache policy/venv node_modules site/node_modules site/dist .build
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
