"""The BI snapshot: published atomically beside a reader that holds the old one open, in the
storage format DuckDB 1.4+ clients read (the clients themselves: the slow test at the end,
which installs DuckDB 1.4 and 1.5 from the package registry into their own environments)."""

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, materialize

from pipeline.data.snapshot import publish_snapshot
from pipeline.data.warehouse import TABLES_DIR, VIEWS_DIR, apply_schema

READER = textwrap.dedent("""
    import sys, duckdb
    conn = duckdb.connect(sys.argv[1], read_only=True)
    print(conn.execute("SELECT count(*) FROM traffic").fetchone()[0], flush=True)
    sys.stdin.readline()  # hold the file open until told
    print(conn.execute("SELECT count(*) FROM traffic").fetchone()[0], flush=True)
""")


def warehouse_with_rows(path: Path, rows: int) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(str(path))
    apply_schema(conn)
    conn.execute("INSERT INTO traffic (request_id, ts, region, prompt, expects_refusal, "
                 "sampled_at) SELECT 'r' || i, now(), 'us', 'q?', false, now() "
                 "FROM range(?) t(i)", [rows])
    return conn


def test_the_snapshot_holds_every_table_and_view(tmp_path):
    conn = warehouse_with_rows(tmp_path / "w.duckdb", 5)
    published = publish_snapshot(conn, tmp_path / "bi" / "snapshot.duckdb")
    conn.close()
    assert published["tables"] == len(list(TABLES_DIR.glob("*.sql")))
    assert published["views"] == len(list(VIEWS_DIR.glob("*.sql")))
    assert sorted(p.name for p in (tmp_path / "bi").iterdir()) == ["snapshot.duckdb"]
    with duckdb.connect(published["path"], read_only=True) as snapshot:
        assert snapshot.execute("SELECT count(*) FROM traffic").fetchone()[0] == 5
        for view in (p.stem for p in VIEWS_DIR.glob("*.sql")):
            snapshot.execute(f"SELECT * FROM {view}").fetchall()


def test_a_reader_holding_the_snapshot_never_blocks_a_publish(tmp_path):
    out = tmp_path / "snapshot.duckdb"
    conn = warehouse_with_rows(tmp_path / "w.duckdb", 3)
    publish_snapshot(conn, out)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(out)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "3"
        conn.execute("INSERT INTO traffic (request_id, ts, region, prompt, expects_refusal, "
                     "sampled_at) VALUES ('new', now(), 'de', 'q?', false, now())")
        publish_snapshot(conn, out)  # the reader still holds the old file open
        with duckdb.connect(str(out), read_only=True) as fresh:
            assert fresh.execute("SELECT count(*) FROM traffic").fetchone()[0] == 4
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "3"  # a consistent view of what it opened
    finally:
        reader.stdin.close()
        reader.wait(timeout=30)
    assert reader.returncode == 0
    conn.close()


def test_the_pipeline_publishes_beside_a_dashboard_that_holds_the_snapshot(tmp_path):
    from assets import (
        auto_scores,
        calibration_drift,
        human_labels,
        replay_responses,
        traffic_sample,
    )
    from assets.bi_snapshot import bi_snapshot
    from assets.partitions import all_models_tags, ensure_model_partitions
    from pipeline import config as settings
    from resources import BISnapshot, DataSources, ModelRegistry, Warehouse

    out = tmp_path / "bi.duckdb"
    resources = {"warehouse": Warehouse(database=str(tmp_path / "w.duckdb")),
                 "models": ModelRegistry.from_file(settings.DEMO_REGISTRY),
                 "sources": DataSources(demo_dir=str(tmp_path / "demo"), demo_rows=60,
                                        demo_labels_per_dimension=30),
                 "bi": BISnapshot(path=str(out))}
    assets = [traffic_sample, replay_responses, auto_scores, human_labels, calibration_drift]
    config = {"ops": {"auto_scores": {"config": {"bertscore": False}}}}

    def run():
        """A pipeline run, then the publishing run the sensor starts after it."""
        instance = DagsterInstance.ephemeral()
        ensure_model_partitions(instance, resources["models"].names())
        ran = materialize(assets, resources=resources, run_config=config, instance=instance,
                          tags=all_models_tags(instance))
        return ran.success and materialize([bi_snapshot], resources=resources).success

    assert run()
    reader = subprocess.Popen([sys.executable, "-c", READER, str(out)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "60"
        assert run()  # every step writes the warehouse, then the snapshot is swapped
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "60"
    finally:
        reader.stdin.close()
        reader.wait(timeout=30)
    with duckdb.connect(str(out), read_only=True) as snapshot:
        assert snapshot.execute("SELECT count(*) FROM drift_status").fetchone()[0] > 0


def test_llm_migrate_bi_publish(tmp_path):
    warehouse_with_rows(tmp_path / "w.duckdb", 2).close()
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", "bi", "publish", "--db",
                           str(tmp_path / "w.duckdb"), "--out", str(tmp_path / "bi.duckdb")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["path"] == str(tmp_path / "bi.duckdb")
    missing = subprocess.run([sys.executable, "-m", "pipeline.cli", "bi", "publish", "--db",
                              str(tmp_path / "none.duckdb")], capture_output=True, text=True)
    assert missing.returncode == 2 and "none.duckdb: no such warehouse" in missing.stderr


CLIENT_CHECK = textwrap.dedent("""
    import json, sys, duckdb
    conn = duckdb.connect(sys.argv[1], read_only=True)
    names = conn.execute("SELECT table_name FROM information_schema.tables "
                         "WHERE table_catalog = current_database()").fetchall()
    counts = {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for (n,) in names}
    print(json.dumps({"version": duckdb.__version__, "counts": counts}))
""")


@pytest.mark.slow
@pytest.mark.parametrize("client", ["1.4.4", "1.5.6"])
def test_duckdb_clients_of_1_4_and_1_5_read_every_table_and_view(tmp_path, client):
    """Installs DuckDB ``client`` from the package registry into its own venv; needs it."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    installed = subprocess.run([str(python), "-m", "pip", "install", "-q", f"duckdb=={client}"],
                               capture_output=True, text=True)
    if installed.returncode != 0:
        pytest.skip(f"duckdb=={client} could not be installed: {installed.stderr[-300:]}")

    from resources import Warehouse

    created = tmp_path / "created.duckdb"  # a new warehouse, as the pipeline creates it
    with Warehouse(database=str(created)).connect() as conn:
        conn.execute("INSERT INTO traffic (request_id, ts, region, prompt, expects_refusal, "
                     "sampled_at) VALUES ('r', now(), 'us', 'q?', false, now())")
    newer = tmp_path / "newer.duckdb"  # written in DuckDB 2.0's own format, then converted
    with duckdb.connect(str(newer)) as conn:
        apply_schema(conn)
        conn.execute("INSERT INTO traffic (request_id, ts, region, prompt, expects_refusal, "
                     "sampled_at) SELECT 'r' || i, now(), 'us', 'q?', false, now() "
                     "FROM range(7) t(i)")
        publish_snapshot(conn, tmp_path / "converted.duckdb")
    expected = {p.stem for d in (TABLES_DIR, VIEWS_DIR) for p in d.glob("*.sql")}
    for path, traffic in ((created, 1), (tmp_path / "converted.duckdb", 7)):
        read = subprocess.run([str(python), "-c", CLIENT_CHECK, str(path)],
                              capture_output=True, text=True)
        assert read.returncode == 0, read.stderr
        result = json.loads(read.stdout)
        assert result["version"] == client
        assert set(result["counts"]) == expected and result["counts"]["traffic"] == traffic


NODE_CLIENT = Path(__file__).with_name("duckdb_node")  # package.json pins @duckdb/node-api


@pytest.mark.slow
def test_the_duckdb_node_client_reads_every_table_and_view_of_the_demo_snapshot(
        demo_bi_snapshot):
    """The official Node client (@duckdb/node-api 1.5, installed by `npm ci` in
    tests/data/duckdb_node: `make bi-install`) opens the demo's snapshot read-only and counts
    every table and view as DuckDB here does."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    if not (NODE_CLIENT / "node_modules" / "@duckdb" / "node-api").is_dir():
        pytest.skip("@duckdb/node-api is not installed: run `make bi-install` (npm ci in "
                    "tests/data/duckdb_node)")
    read = subprocess.run(["node", str(NODE_CLIENT / "read_every_table.mjs"),
                           str(demo_bi_snapshot)], capture_output=True, text=True, timeout=300)
    assert read.returncode == 0, read.stderr
    result = json.loads(read.stdout)
    assert result["version"].startswith("v1.5.")
    with duckdb.connect(str(demo_bi_snapshot), read_only=True) as snapshot:
        names = [n for (n,) in snapshot.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database()").fetchall()]
        expected = {n: snapshot.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]
                    for n in names}
    assert set(expected) == {p.stem for d in (TABLES_DIR, VIEWS_DIR) for p in d.glob("*.sql")}
    assert result["counts"] == expected
    assert expected["decisions"] > 0 and expected["v_migration_verdict"] == 2
