"""What one batch of replayed answers costs to store as the warehouse grows: open the file,
insert 16 rows into a table shaped as `responses` (its primary key included), commit, close.
DuckDB's default checkpoints at every close, which writes the primary key's index whole;
`pipeline.data.warehouse.defer_checkpoint` (what replay's writer does) checkpoints per
megabyte of write-ahead log instead. The same table without its primary key is the peer that
shows where the time goes.

    python benchmarks/bench_warehouse_writes.py [--sizes 2000 20000 50000 100000] [--batches 100]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402

from pipeline.data.snapshot import STORAGE_COMPATIBILITY  # noqa: E402
from pipeline.data.warehouse import defer_checkpoint  # noqa: E402

BATCH = 16
COLUMNS = ("request_id VARCHAR, model VARCHAR, source VARCHAR, response VARCHAR, "
           "status VARCHAR, replayed_at TIMESTAMPTZ")
ROW = "'candidate-a', 'replay', repeat('answer ', 60), 'ok', now()"


def filled(path: Path, rows: int, primary_key: bool) -> None:
    key = ", PRIMARY KEY (request_id, model, source)" if primary_key else ""
    # created as the warehouse is: in the storage format DuckDB 1.4 clients read
    with duckdb.connect(str(path), config={
            "storage_compatibility_version": STORAGE_COMPATIBILITY}) as conn:
        conn.execute(f"CREATE TABLE responses ({COLUMNS}{key})")
        conn.execute(f"INSERT INTO responses SELECT md5(i::VARCHAR), {ROW} FROM range(?) t(i)",
                     [rows])


def ms_per_batch(path: Path, batches: int, deferred: bool) -> float:
    started = time.perf_counter()
    for batch in range(batches):
        conn = duckdb.connect(str(path))
        if deferred:
            defer_checkpoint(conn)
        conn.execute(f"INSERT INTO responses SELECT md5('b{batch}-' || i), {ROW} "
                     "FROM range(?) t(i)", [BATCH])
        conn.close()
    return (time.perf_counter() - started) / batches * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000, 50000, 100000])
    parser.add_argument("--batches", type=int, default=100)
    args = parser.parse_args()
    print(f"ms per batch of {BATCH} rows (open, insert, commit, close), "
          f"mean of {args.batches} batches")
    print(f"{'rows':>8} {'primary key':>12} {'no key (peer)':>14} {'key, deferred':>14} "
          f"{'speed-up':>9}")
    for rows in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            figures = []
            for name, key, deferred in (("key", True, False), ("nokey", False, False),
                                        ("deferred", True, True)):
                path = Path(tmp) / f"{name}.duckdb"
                filled(path, rows, key)
                figures.append(ms_per_batch(path, args.batches, deferred))
        keyed, peer, deferred = figures
        print(f"{rows:>8} {keyed:>12.1f} {peer:>14.1f} {deferred:>14.1f} "
              f"{keyed / deferred:>8.1f}x")


if __name__ == "__main__":
    main()
