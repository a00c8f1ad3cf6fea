# Quickstart: `make demo`, then `make test`. Everything is installed into .venv from
# requirements.lock (exact versions); `make dev` opens the Dagster UI.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

export DAGSTER_HOME := $(CURDIR)/.dagster_home
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo dev dev-port-free test lint test-slow bench clean bi bi-install bi-serve

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)/.nux
	printf 'telemetry:\n  enabled: false\n' > $@
	printf 'seen: 1\n' > $(DAGSTER_HOME)/.nux/nux.yaml

demo: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/llm-migrate demo

# The UI has no authentication: it binds loopback only (README, "Deployment"). `make dev PORT=3001`
# picks another port; one already in use is reported before anything starts.
PORT ?= 3000
define PORT_CHECK
import os, socket, sys
port = os.environ["PORT"]
if not port.isdigit() or not 0 < int(port) < 65536:
    sys.exit(f"make dev: PORT={port!r} is not a port number (e.g. make dev PORT=3001)")
with socket.socket() as probe:
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind(("127.0.0.1", int(port)))
    except OSError as error:
        sys.exit(f"make dev: port {port} on 127.0.0.1 is in use ({error.strerror}): another "
                 f"`make dev` or server holds it; stop it, or choose another: make dev PORT=3001")
endef
export PORT_CHECK

dev-port-free:
	@PORT="$(PORT)" $(PYTHON) -c "$$PORT_CHECK"

dev: dev-port-free $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(PORT)

# One worker per core (pytest-xdist); a test file stays on one worker, so the fixtures it
# shares across its tests (a whole pipeline run, compiled models) are built once.
test: lint $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m pytest -m "not slow" -n auto --dist loadfile

# Style (ruff) and the layering contracts (import-linter, [tool.importlinter] in pyproject.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# Long statistical recovery checks; .ci/run runs them after `make test`. pytest's exit
# status 5 (no test marked slow) is not a failure.
test-slow: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m pytest -m slow || [ $$? -eq 5 ]

# BI (README, "BI"): Apache Superset over the BI snapshot, in an environment of its own (bi/.venv,
# exact versions in bi/requirements.lock), its state in LLM_MIGRATE_BI_HOME. `make bi-install`
# also installs the DuckDB Node client the slow snapshot test reads with (npm ci).
BI_VENV := bi/.venv
BI_STAMP := $(BI_VENV)/.installed-stamp
BI_PORT ?= 8088
LLM_MIGRATE_BI_SNAPSHOT ?= data/llm_migrate_bi.duckdb
export LLM_MIGRATE_BI_HOME ?= $(CURDIR)/data/superset
SUPERSET := SUPERSET_CONFIG_PATH=$(CURDIR)/bi/superset_config.py FLASK_APP=superset $(BI_VENV)/bin/superset

$(BI_STAMP): bi/requirements.lock
	test -x $(BI_VENV)/bin/python || $(PYTHON) -m venv $(BI_VENV)
	$(BI_VENV)/bin/pip install --quiet --no-deps -r bi/requirements.lock
	touch $@

tests/data/duckdb_node/node_modules/.package-lock.json: tests/data/duckdb_node/package-lock.json
	cd tests/data/duckdb_node && npm ci

bi-install: $(BI_STAMP) tests/data/duckdb_node/node_modules/.package-lock.json

# Sets Superset up on the snapshot: metadata database, admin, the dashboards (again on each call).
bi: $(BI_STAMP)
	$(BI_VENV)/bin/python bi/superset_setup.py --snapshot $(LLM_MIGRATE_BI_SNAPSHOT)

# Loopback only, like `make dev`: put an authenticating proxy in front to share it.
bi-serve: bi
	$(SUPERSET) run -h 127.0.0.1 -p $(BI_PORT) --with-threads

clean:
	rm -rf data .dagster_home
