"""Artifacts and the BI snapshot on an object store: a real S3-API server (moto's server mode)
on loopback, reached through s3fs as in production. The pipeline's own writes (the label-queue
sheet of a real materialization) go through it in tests/deployment/test_celery_executor.py."""

import duckdb
import pytest
import s3fs
from local_services import s3_server

from pipeline.data.artifacts import ArtifactStore
from pipeline.data.snapshot import publish_snapshot
from pipeline.data.warehouse import TABLES_DIR, VIEWS_DIR, apply_schema

BUCKET = "llm-migrate-test"


@pytest.fixture(scope="module")
def s3():
    with s3_server(BUCKET) as env:
        yield env


def test_an_s3_root_writes_and_reads_back_through_the_server(s3):
    store = ArtifactStore(f"s3://{BUCKET}/prod")
    sheet = "request_id,model,dimension\nr1,a,style\n"
    where = store.write_text(sheet, "label_queue", "label_queue-20261206T000000Z.csv")
    assert where == f"s3://{BUCKET}/prod/label_queue/label_queue-20261206T000000Z.csv"
    assert not store.is_local and store.exists("label_queue", "label_queue-20261206T000000Z.csv")
    assert store.read_bytes("label_queue", "label_queue-20261206T000000Z.csv").decode() == sheet
    store.write_text("replaced\n", "label_queue", "label_queue-20261206T000000Z.csv")
    listed = s3fs.S3FileSystem().ls(f"{BUCKET}/prod/label_queue")  # a fresh client sees it
    assert listed == [f"{BUCKET}/prod/label_queue/label_queue-20261206T000000Z.csv"]
    assert store.read_bytes("label_queue", "label_queue-20261206T000000Z.csv") == b"replaced\n"


def test_a_missing_artifact_is_absent_not_an_error(s3):
    store = ArtifactStore(f"s3://{BUCKET}/empty")
    assert not store.exists("fits", "nothing.nc")
    with pytest.raises(FileNotFoundError):
        store.read_bytes("fits", "nothing.nc")


def test_the_bi_snapshot_is_published_to_the_object_store_whole(s3, tmp_path):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        apply_schema(conn)
        conn.execute("INSERT INTO schema_version VALUES (999, 'marker', now())")
        published = publish_snapshot(conn, f"s3://{BUCKET}/bi/llm_migrate.duckdb")
    assert published["path"] == f"s3://{BUCKET}/bi/llm_migrate.duckdb"
    assert published["tables"] == len(list(TABLES_DIR.glob("*.sql")))
    assert published["views"] == len(list(VIEWS_DIR.glob("*.sql")))
    copy = tmp_path / "downloaded.duckdb"
    s3fs.S3FileSystem().get(f"{BUCKET}/bi/llm_migrate.duckdb", str(copy))
    assert copy.stat().st_size == published["bytes"]
    with duckdb.connect(str(copy), read_only=True) as bi:
        assert bi.execute("SELECT max(version) FROM schema_version").fetchone()[0] == 999


def test_bi_publish_takes_an_object_store_url(s3, tmp_path, run_cli):
    import json

    database = str(tmp_path / "warehouse.duckdb")
    with duckdb.connect(database) as conn:
        apply_schema(conn)
    done = run_cli("bi", "publish", "--db", database, "--out", f"s3://{BUCKET}/cli/bi.duckdb")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["path"] == f"s3://{BUCKET}/cli/bi.duckdb"
    assert s3fs.S3FileSystem().exists(f"{BUCKET}/cli/bi.duckdb")
