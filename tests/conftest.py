import contextlib
import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

# The product never reaches a model hub; tests must not either.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")

from pipeline.demo import world as demo_world  # noqa: E402


@pytest.fixture(autouse=True)
def _artifacts_in_tmp(tmp_path_factory, monkeypatch):
    """Files a run keeps (label-queue sheets, fits, reports) land in a temporary folder, never
    in the project's data/."""
    monkeypatch.setenv("LLM_MIGRATE_ARTIFACTS", str(tmp_path_factory.mktemp("artifacts")))


@pytest.fixture(scope="session")
def small_traffic():
    return demo_world.generate_traffic(300, seed=11)


@pytest.fixture
def demo_models():
    """The offline demo's model registry (its incumbent retired, as in `make demo`)."""
    from pipeline.config import DEMO_REGISTRY
    from resources import ModelRegistry

    return ModelRegistry.from_file(DEMO_REGISTRY)


@pytest.fixture
def run_cli():
    """``llm-migrate ARGS...`` in this process (compiled models and imports are reused), as a
    CompletedProcess: returncode, stdout, stderr. A test of the command as a separate
    process, where that is the point, runs it in a subprocess itself. The output goes to
    buffers of its own that are never closed: a logging handler that keeps the stream of the
    run it saw stays writable after the test."""
    from pipeline.cli import main

    def run(*args: str) -> subprocess.CompletedProcess:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exit_:  # argparse's usage errors, sys.exit("message")
                code = exit_.code if isinstance(exit_.code, int) else 1
                if exit_.code is not None and not isinstance(exit_.code, int):
                    print(exit_.code, file=sys.stderr)  # what the interpreter prints
        return subprocess.CompletedProcess(["llm-migrate", *args], code, out.getvalue(),
                                           err.getvalue())
    return run


def pytest_collection_finish(session):
    """rouge-score (a peer some tests compare with) imports absl, whose logging handler holds
    the stderr of the moment of import: pytest's capture. absl closes that stream when its
    handler is closed, which a later logging reconfiguration (Dagster's runs) does, and the
    whole session then dies writing to it. Give the handler the real stderr, which absl never
    closes, and keep it off the root logger."""
    absl_logging = sys.modules.get("absl.logging")
    if absl_logging is not None:
        handler = absl_logging.get_absl_handler()
        handler.python_handler.stream = sys.__stderr__
        logging.root.removeHandler(handler)


@pytest.fixture(scope="session")
def demo_bi_snapshot(tmp_path_factory):
    """The BI snapshot of a small demo, as BI users get it: the whole graph materialized twice
    (a second decision run, so the history views have two runs), then published. Slow
    (minutes): for the slow tests that open it with BI clients."""
    from dagster import DagsterInstance, materialize

    from assets import ALL_ASSETS, calibration_drift, migration_decision, population_posterior
    from assets.partitions import all_models_tags, ensure_model_partitions
    from pipeline import config as settings
    from pipeline.data.snapshot import publish_snapshot
    from resources import Artifacts, DataSources, ModelConfig, ModelRegistry, Warehouse

    tmp_path = tmp_path_factory.mktemp("bi_demo")
    registry = settings.demo_registry()
    warehouse = Warehouse(database=str(tmp_path / "warehouse.duckdb"))
    resources = {"warehouse": warehouse, "artifacts": Artifacts(root=str(tmp_path / "artifacts")),
                 "models": ModelRegistry(incumbent=registry["incumbent"], offline=True,
                                         models=[ModelConfig(**m) for m in registry["models"]]),
                 "sources": DataSources(demo_dir=str(tmp_path / "demo"), demo_rows=200,
                                        demo_labels_per_dimension=80, demo_seed=5)}
    fit = {"population_posterior": {"config": {"tune": 500}}}
    instance = DagsterInstance.ephemeral()
    ensure_model_partitions(instance, resources["models"].names())
    assert materialize(ALL_ASSETS, resources=resources, instance=instance,
                       run_config={"ops": {**fit, "auto_scores": {"config": {"bertscore": False}}}},
                       tags=all_models_tags(instance)).success
    assert materialize([calibration_drift, population_posterior, migration_decision],
                       resources=resources, instance=instance, run_config={"ops": fit}).success
    with warehouse.connect() as conn:
        return Path(publish_snapshot(conn, tmp_path / "llm_migrate_bi.duckdb")["path"])
