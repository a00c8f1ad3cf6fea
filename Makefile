# Quickstart: `make demo`, then `make test`. Everything is installed into .venv from
# requirements.lock (exact versions); `make dev` opens the Dagster UI.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

export DAGSTER_HOME := $(CURDIR)/.dagster_home
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo dev test lint test-slow bench clean

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

dev: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

test: lint $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m pytest -m "not slow"

# Style (ruff) and the layering contracts (import-linter, [tool.importlinter] in pyproject.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# Long statistical recovery checks; .ci/run runs them after `make test`. pytest's exit
# status 5 (no test marked slow) is not a failure.
test-slow: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m pytest -m slow || [ $$? -eq 5 ]

clean:
	rm -rf data .dagster_home
