"""The BI snapshot: a read-only copy of the warehouse that BI tools open, published atomically.

DuckDB lets one process write a file or many read it, never both, so BI never opens the
warehouse itself: a dashboard holding it would stop the next run, and a run would stop the
dashboard. The snapshot is written aside (every table and view the warehouse has) and swapped
in with an atomic rename: a reader holding the old file keeps a consistent view of it, the next
connection sees the new one, and neither side ever waits on the other's lock.

Files are written in the storage format of DuckDB 1.4 (``STORAGE_COMPATIBILITY``), which
DuckDB 1.4 LTS, 1.5 and 2.0 clients (Python, the CLI, ``@duckdb/node-api``) all read.

The snapshot may also go to an object store (``s3://bucket/bi/llm_migrate.duckdb``, through
fsspec): it is written in a local staging folder and uploaded in one PUT, which an object store
makes visible whole or not at all; BI tools attach it read-only over HTTP (DuckDB's httpfs).
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import duckdb
from upath import UPath

STORAGE_COMPATIBILITY = "v1.4.0"
_ALIAS = "llm_migrate_bi_snapshot"


def literal(text: str) -> str:
    """A SQL string literal (ATTACH takes no bound parameters)."""
    return "'" + text.replace("'", "''") + "'"


def is_remote(out: str | Path) -> bool:
    """Whether ``out`` is an fsspec URL (``s3://...``) rather than a path of this machine."""
    return UPath(out).protocol not in ("", "file", "local")


def publish_snapshot(conn: duckdb.DuckDBPyConnection, out: str | Path,
                     staging: str | Path | None = None) -> dict:
    """Copy the database of ``conn`` to ``out`` (tables, views, data) in the storage format of
    DuckDB 1.4: a local file through a file beside it and an atomic rename; an fsspec URL
    through a file in ``staging`` (default: a temporary folder) and one upload. Returns what
    was published: ``path``, ``tables``, ``views``, ``bytes``."""
    if not is_remote(out):
        return _publish_file(conn, Path(out))
    with tempfile.TemporaryDirectory(prefix="llm_migrate_bi_", dir=staging) as folder:
        published = _publish_file(conn, Path(folder) / "snapshot.duckdb")
        target = UPath(out)
        target.fs.put_file(published["path"], target.path)
    return {**published, "path": str(target)}


def _publish_file(conn: duckdb.DuckDBPyConnection, out: Path) -> dict:
    out.parent.mkdir(parents=True, exist_ok=True)
    aside = out.with_name(f".{out.name}.{uuid.uuid4().hex}.tmp")
    source = conn.execute("SELECT current_database()").fetchone()[0]
    conn.execute(f"ATTACH {literal(str(aside))} AS {_ALIAS} "
                 f"(STORAGE_VERSION {literal(STORAGE_COMPATIBILITY)})")
    try:
        conn.execute(f'COPY FROM DATABASE "{source}" TO {_ALIAS}')
        kinds = dict(conn.execute(
            "SELECT table_type, count(*) FROM information_schema.tables "
            f"WHERE table_catalog = {literal(_ALIAS)} GROUP BY ALL").fetchall())
    finally:
        conn.execute(f"DETACH {_ALIAS}")
    try:
        os.replace(aside, out)  # atomic: readers see the old file or the new, never a part
    finally:
        aside.unlink(missing_ok=True)
        Path(f"{aside}.wal").unlink(missing_ok=True)
    return {"path": str(out), "tables": int(kinds.get("BASE TABLE", 0)),
            "views": int(kinds.get("VIEW", 0)), "bytes": out.stat().st_size}
