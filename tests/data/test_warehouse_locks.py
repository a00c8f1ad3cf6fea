"""Another process holding the warehouse: opens wait for its lock and go on, read-write and
read-only alike, or give up after ``lock_wait_s`` with an error naming the warehouse."""

import subprocess
import sys
import time

import duckdb
import pytest

from pipeline.data.warehouse import WarehouseBusy, open_database
from resources import Warehouse

# Holds the file as another run would (read-write), says so on stdout, then lets go.
HOLD = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
conn.close()
"""


def _holder(path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(seconds)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"
    return holder


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    return path


@pytest.mark.parametrize("read_only", [False, True])
def test_an_open_waits_for_another_process_to_let_go(database, read_only):
    holder = _holder(database, 1.5)
    try:
        with pytest.raises(duckdb.IOException, match="Could not set lock"):
            duckdb.connect(str(database), read_only=read_only)  # what DuckDB alone does
        started = time.monotonic()
        conn = open_database(str(database), read_only=read_only, lock_wait_s=30)
        waited = time.monotonic() - started
        assert conn.execute("SELECT 42").fetchone() == (42,)
        conn.close()
    finally:
        holder.wait(timeout=30)
    assert 0.2 < waited < 10


def test_giving_up_names_the_warehouse(database):
    holder = _holder(database, 5)
    try:
        started = time.monotonic()
        with pytest.raises(WarehouseBusy, match=rf"warehouse {database}: another process held "
                                                r"its lock for 1 s.*read-only"):
            open_database(str(database), read_only=True, lock_wait_s=1)
        assert time.monotonic() - started < 4
    finally:
        holder.kill()
        holder.wait()


def test_the_resource_waits_for_the_lock_on_writes_and_reads(tmp_path):
    warehouse = Warehouse(database=str(tmp_path / "w.duckdb"), lock_wait_s=30)
    with warehouse.connect() as conn:  # creates the file and its schema
        conn.execute("CREATE TABLE t AS SELECT 1 AS x")
    holder = _holder(tmp_path / "w.duckdb", 1.0)
    try:
        with warehouse.read() as conn:
            assert conn.execute("SELECT x FROM t").fetchone() == (1,)
        with warehouse.connect() as conn:
            conn.execute("UPDATE t SET x = 2")
    finally:
        holder.wait(timeout=30)


def test_a_read_in_a_process_that_writes_falls_back_to_its_connection(tmp_path):
    warehouse = Warehouse(database=str(tmp_path / "w.duckdb"))
    with warehouse.connect() as writing, warehouse.read() as reading:
        writing.execute("CREATE TABLE t AS SELECT 1 AS x")
        assert reading.execute("SELECT x FROM t").fetchone() == (1,)
