"""Every model partition replayed at once by its own `dagster asset materialize --partition M`
process against one warehouse file, as the issue tried it (each model served by one loopback
provider that answers in 0.3 s): every run succeeds, no lock error, no row lost or doubled, the
runs overlap, and the rest of the graph reaches the verdicts of the in-process run."""

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from dagster import AssetSelection, DagsterInstance, materialize

from assets import ALL_ASSETS
from assets.partitions import all_models_tags, ensure_model_partitions
from assets.replay_responses import REPLAY_POOL
from pipeline.demo import server as offline_server
from pipeline.demo import world as demo_world
from resources import Artifacts, DataSources, ModelRegistry, Warehouse

ROOT = Path(__file__).resolve().parents[2]
DAGSTER = str(Path(sys.executable).parent / "dagster")
RUN_CONFIG = {"ops": {"population_posterior": {"config": {"tune": 500}},
                      "auto_scores": {"config": {"bertscore": False}}}}
BEFORE = AssetSelection.assets("traffic_sample")
REPLAY = AssetSelection.assets("replay_responses")


def write_inputs(folder: Path, rows: int = 600) -> tuple[Path, Path]:
    """A traffic file and a label file of the demo world (as the e2e test's)."""
    traffic = demo_world.generate_traffic(rows, 5)
    labels = demo_world.generate_labels(traffic, 150, 5)
    folder.mkdir(parents=True, exist_ok=True)
    traffic.to_parquet(folder / "traffic.parquet", index=False)
    labels.to_csv(folder / "labels.csv", index=False)
    return folder / "traffic.parquet", folder / "labels.csv"


def instance_home(folder: Path, pool_limit: int) -> Path:
    """A Dagster home on disk (SQLite storage, which processes share), telemetry off, the
    replay pool limited to ``pool_limit`` steps at once (`dagster instance concurrency set`)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with DagsterInstance.from_config(str(folder)) as instance:
        instance.event_log_storage.set_concurrency_slots(REPLAY_POOL, pool_limit)
    return folder


KEYS = {"OPENAI_API_KEY": "offline", "ANTHROPIC_API_KEY": "offline"}


def write_registry(path: Path, server, concurrency: int) -> Path:
    """The demo's models, served by one running loopback provider as real providers are."""
    path.write_text(
        f"incumbent: incumbent-v1\nconcurrency: {concurrency}\nmodels:\n"
        "  - {name: incumbent-v1, provider: openai, model_id: incumbent-v1, retired: true}\n"
        "  - {name: candidate-a, provider: anthropic, model_id: candidate-a, "
        f"base_url: '{server.anthropic_base_url}'}}\n"
        "  - {name: candidate-b, provider: openai_compatible, model_id: candidate-b, "
        f"base_url: '{server.base_url}'}}\n")
    return path


def resources(database: Path, traffic: Path, labels: Path, registry: Path, tmp: Path) -> dict:
    return {
        "warehouse": Warehouse(database=str(database)),
        "artifacts": Artifacts(root=str(tmp / "artifacts")),
        "models": ModelRegistry.from_file(registry, openai_api_key=KEYS["OPENAI_API_KEY"],
                                          anthropic_api_key=KEYS["ANTHROPIC_API_KEY"]),
        "sources": DataSources(traffic=str(traffic), labels=str(labels)),
    }


def materialize_partitions_at_once(names: list[str], env: dict,
                                   logs: Path) -> list[tuple[int, str]]:
    """`dagster asset materialize --select replay_responses --partition NAME`, one process per
    name, all started together; (exit status, output) of each."""
    logs.mkdir(exist_ok=True)
    started = []
    for name in names:
        with (logs / f"{name}.log").open("w") as out:
            started.append((subprocess.Popen(
                [DAGSTER, "asset", "materialize", "-m", "assets.definitions",
                 "--select", "replay_responses", "--partition", name],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT), logs / f"{name}.log"))
    return [(run.wait(timeout=900), log.read_text()) for run, log in started]


def _answers(database: Path):
    with duckdb.connect(str(database), read_only=True) as conn:
        return conn.execute("SELECT request_id, model, source, status, response_hash "
                            "FROM responses ORDER BY ALL").fetchall()


def _verdicts(database: Path):
    with duckdb.connect(str(database), read_only=True) as conn:
        return (conn.execute("SELECT candidate, verdict FROM v_migration_verdict ORDER BY ALL")
                .fetchall(),
                conn.execute("SELECT candidate, dimension, region, decision FROM decisions "
                             "ORDER BY ALL").fetchall())


@pytest.mark.slow
def test_every_partition_at_once_against_one_warehouse(tmp_path):
    traffic, labels = write_inputs(tmp_path / "inputs")
    home = instance_home(tmp_path / "dagster_home", pool_limit=3)
    parallel, serial = tmp_path / "parallel.duckdb", tmp_path / "serial.duckdb"
    with offline_server.serve(latency_s=0.3, retired={"incumbent-v1"}) as server:
        registry = write_registry(tmp_path / "models.yaml", server, concurrency=48)
        res = resources(parallel, traffic, labels, registry, tmp_path)
        names = res["models"].names()
        with DagsterInstance.from_config(str(home)) as instance:
            ensure_model_partitions(instance, names)
            assert materialize(ALL_ASSETS, selection=BEFORE, resources=res,
                               instance=instance).success
        env = {**os.environ, **KEYS, "DAGSTER_HOME": str(home), "LLM_MIGRATE_DB": str(parallel),
               "LLM_MIGRATE_MODELS": str(registry), "LLM_MIGRATE_TRAFFIC": str(traffic),
               "LLM_MIGRATE_LABELS": str(labels),
               "LLM_MIGRATE_ARTIFACTS": str(tmp_path / "artifacts"),
               "LLM_MIGRATE_BI_SNAPSHOT": str(tmp_path / "bi.duckdb")}
        for code, output in materialize_partitions_at_once(names, env, tmp_path / "logs"):
            assert code == 0, output[-3000:]
            assert "Could not set lock" not in output and "WarehouseBusy" not in output
        # Each candidate is alone at its provider, so each run keeps its 48 in flight: more
        # than 48 at once means both replayed together.
        assert 48 < server.peak_in_flight <= 2 * 48
        with DagsterInstance.from_config(str(home)) as instance:
            assert instance.get_materialized_partitions(REPLAY.resolve(ALL_ASSETS).pop()) \
                == set(names)
        with DagsterInstance.ephemeral() as instance:
            rest = AssetSelection.all() - BEFORE - REPLAY
            assert materialize(ALL_ASSETS, selection=rest, resources=res, instance=instance,
                               run_config=RUN_CONFIG).success

        with DagsterInstance.ephemeral() as instance:  # today's run: one process, in order
            ensure_model_partitions(instance, names)
            assert materialize(ALL_ASSETS, resources=resources(serial, traffic, labels,
                                                               registry, tmp_path),
                               instance=instance, run_config=RUN_CONFIG,
                               tags=all_models_tags(instance)).success

    answers = _answers(parallel)
    assert len(answers) == 600 * len(names)  # the incumbent's logged answers, two replays
    assert len({row[:3] for row in answers}) == len(answers)  # none doubled
    assert all(status == "ok" for *_, status, _ in answers)
    assert answers == _answers(serial)
    assert _verdicts(parallel) == _verdicts(serial)
