"""The demo graph on a distributed executor, for real: the Dagster instance on PostgreSQL
(deploy/dagster.yaml as shipped), every step on one of two Celery workers (dagster-celery,
deploy/celery/executor.yaml, a Redis broker), each worker a process of its own that shares only
what pods share: the instance, the broker, the warehouse and the artifact store (an S3-API
server). The run is launched as a user launches it, `dagster job execute`; its verdicts are
those of the same run on the in-process executor.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus
from local_services import patched_env, postgres_server, redis_server, s3_server

from assets.partitions import all_models_tags, ensure_model_partitions
from pipeline.config import PROJECT_ROOT, demo_registry
from pipeline.data.artifacts import ArtifactStore
from pipeline.demo import world as demo_world

BIN = Path(sys.executable).parent
DEPLOY = PROJECT_ROOT / "deploy"
BUCKET = "llm-migrate-celery"
WORKERS = 2
ROWS, LABELS, SEED = 600, 150, 5
# Superiority margins: candidate-a then needs more labels in a few regions, so label_queue
# writes the annotators' sheet (to the object store); every p_better of this data set is at
# least 0.01 from the 0.95 threshold, clear of the runs' sampling differences.
RUN_CONFIG = {"ops": {"auto_scores": {"config": {"bertscore": False}},
                      "population_posterior": {"config": {"tune": 500}},
                      "migration_decision": {"config": {"margins": {
                          "correctness": 0.0, "refusal": 0.0, "style": 0.0}}}}}
DECISION_COLUMNS = ["candidate", "dimension", "region", "decision"]


def write_inputs(folder: Path) -> dict[str, str]:
    folder.mkdir()
    traffic = demo_world.generate_traffic(ROWS, SEED)
    traffic.to_parquet(folder / "traffic.parquet", index=False)
    demo_world.generate_labels(traffic, LABELS, SEED).to_csv(folder / "labels.csv", index=False)
    (folder / "run.yaml").write_text(yaml.safe_dump(RUN_CONFIG))
    return {"LLM_MIGRATE_TRAFFIC": str(folder / "traffic.parquet"),
            "LLM_MIGRATE_LABELS": str(folder / "labels.csv")}


def sqlalchemy_url(postgres: str) -> str:
    """The URL as deploy/dagster.yaml wants it: with the driver dagster-postgres ships."""
    return postgres.replace("postgresql://", "postgresql+psycopg2://", 1)


def base_env(home: Path, postgres: str, redis: str, s3: dict, inputs: dict) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LLM_MIGRATE_", "DAGSTER_", "PYTEST_"))}
    return {**env, **s3, **inputs, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "DAGSTER_HOME": str(home), "DAGSTER_POSTGRES_URL": sqlalchemy_url(postgres),
            "DAGSTER_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1", "LLM_MIGRATE_CELERY_BROKER": redis,
            "LLM_MIGRATE_CELERY_BACKEND": redis}


def start_worker(number: int, env: dict, log: Path) -> subprocess.Popen:
    """`dagster-celery worker start` as a worker pod runs it; in a session of its own, so that
    it and the Celery processes it starts are stopped together."""
    return subprocess.Popen(
        [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
         "-y", str(DEPLOY / "celery" / "executor.yaml"), "-q", "dagster",
         "-n", f"llm-migrate-{number}@%h", "--", "--concurrency=1"],
        env=env, cwd=log.parent, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True)


def stop(worker: subprocess.Popen) -> None:
    with_children = os.getpgid(worker.pid)
    os.killpg(with_children, signal.SIGTERM)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(with_children, signal.SIGKILL)
        worker.wait()


def execute(env: dict, tags: dict, config: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "dagster"), "job", "execute", "-m", "assets.definitions",
         "-j", "migration_job", "-c", str(config), "--tags", json.dumps(tags)],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=1800)


def decisions(database: str) -> pd.DataFrame:
    with duckdb.connect(database, read_only=True) as conn:
        return (conn.execute("SELECT * FROM decisions").df()
                .sort_values(DECISION_COLUMNS[:3], na_position="first", ignore_index=True))


def step_processes(instance: DagsterInstance, run_id: str) -> dict[str, int]:
    """The process id each step started in, from the run's event log."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_START).records
    return {r.event_log_entry.dagster_event.step_key: r.event_log_entry.dagster_event.pid
            for r in records}


@pytest.mark.slow
def test_the_demo_graph_on_celery_workers_decides_as_in_process(tmp_path):
    inputs = write_inputs(tmp_path / "inputs")
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((DEPLOY / "dagster.yaml").read_text())
    with postgres_server() as postgres, \
            redis_server(tmp_path / "redis") as redis, s3_server(BUCKET) as s3:
        env = base_env(home, postgres, redis, s3, inputs)
        with patched_env({"DAGSTER_HOME": str(home),
                          "DAGSTER_POSTGRES_URL": sqlalchemy_url(postgres)}):
            instance = DagsterInstance.get()
        ensure_model_partitions(instance, [m["name"] for m in demo_registry()["models"]])
        tags = all_models_tags(instance)

        in_process = {**env, "LLM_MIGRATE_DB": str(tmp_path / "in_process.duckdb"),
                      "LLM_MIGRATE_ARTIFACTS": str(tmp_path / "in_process_artifacts")}
        done = execute(in_process, tags, tmp_path / "inputs" / "run.yaml", tmp_path)
        assert done.returncode == 0, done.stderr[-4000:]

        celery = {**env, "LLM_MIGRATE_EXECUTOR": "celery",
                  "LLM_MIGRATE_EXECUTOR_CONFIG": str(DEPLOY / "celery" / "executor.yaml"),
                  "LLM_MIGRATE_DB": str(tmp_path / "celery.duckdb"),
                  "LLM_MIGRATE_ARTIFACTS": f"s3://{BUCKET}/prod"}
        logs = [tmp_path / f"worker-{n}" / "worker.log" for n in range(WORKERS)]
        for log in logs:
            log.parent.mkdir()
        workers = [start_worker(n, celery, log) for n, log in enumerate(logs)]
        try:
            started = time.monotonic()
            done = execute(celery, tags, tmp_path / "inputs" / "run.yaml", tmp_path)
            took = time.monotonic() - started
            assert done.returncode == 0, done.stderr[-4000:] + logs[0].read_text()[-4000:]
            celery_run = instance.get_runs(limit=1)[0]  # the latest
            assert celery_run.status == DagsterRunStatus.SUCCESS
            steps = step_processes(instance, celery_run.run_id)
            groups = {os.getpgid(pid) for pid in steps.values()}  # the workers are alive
        finally:
            for worker in workers:
                stop(worker)
        instance.dispose()

        # every step ran in a worker's process group, none in the run's own process
        assert set(steps) >= {"traffic_sample", "replay_responses", "auto_scores",
                              "population_posterior", "migration_decision", "label_queue"}
        assert groups <= {w.pid for w in workers}, (steps, [w.pid for w in workers])
        print(f"celery run: {took:.0f} s, steps by worker group: "
              f"{ {g: sum(os.getpgid(p) == g for p in steps.values()) for g in groups} }")

        expected, got = decisions(in_process["LLM_MIGRATE_DB"]), decisions(celery["LLM_MIGRATE_DB"])
        pd.testing.assert_frame_equal(got[DECISION_COLUMNS], expected[DECISION_COLUMNS])
        # The same seeds, but not the same bits: one fit of 42 slices came out 0.0014 apart in
        # a run (threads in another process), far inside any interval.
        assert (got["delta_mean"] - expected["delta_mean"]).abs().max() < 0.02

        with duckdb.connect(celery["LLM_MIGRATE_DB"], read_only=True) as conn:
            verdicts = dict(conn.execute("SELECT candidate, verdict FROM v_migration_verdict")
                            .fetchall())
            to_label = conn.execute("SELECT count(*) FROM label_queue WHERE to_label").fetchone()[0]
        print(f"verdicts {verdicts}, {to_label} requests to label")
        assert verdicts == {"candidate-a": "need_more_labels", "candidate-b": "hold"}
        # the annotators' sheet went to the object store, and reads back as the in-process
        # run's local one
        (sheet,) = list(ArtifactStore(f"s3://{BUCKET}/prod").path("label_queue").iterdir())
        with sheet.open() as remote:
            read_back = pd.read_csv(remote)
        local = Path(in_process["LLM_MIGRATE_ARTIFACTS"]) / "label_queue"
        (expected_sheet,) = list(local.iterdir())
        assert to_label > 0 and len(read_back) > 0
        pd.testing.assert_frame_equal(read_back, pd.read_csv(expected_sheet))
