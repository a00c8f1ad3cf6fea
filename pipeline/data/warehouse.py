"""The DuckDB schema: DDL and BI views live as .sql files under sql/tables and sql/views."""

from __future__ import annotations

from pathlib import Path

import duckdb

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def apply_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Create every table that does not exist yet, then (re)create the views."""
    for folder in ("tables", "views"):
        for path in sorted((SQL_DIR / folder).glob("*.sql")):
            conn.execute(path.read_text())


def replace_rows(conn, table: str, frame, where: str = "", params: tuple = ()) -> None:
    """Delete the rows matching ``where`` (all rows when empty) and insert ``frame`` in their
    place, in one transaction, so readers never see a half-written table."""
    conn.execute("BEGIN")
    try:
        conn.execute(f"DELETE FROM {table} {('WHERE ' + where) if where else ''}", params)
        insert_frame(conn, table, frame)
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise


def insert_frame(conn, table: str, frame, or_replace: bool = False) -> None:
    """Insert a DataFrame by column name (so column order does not matter)."""
    if len(frame) == 0:
        return
    columns = ", ".join(frame.columns)
    verb = "INSERT OR REPLACE" if or_replace else "INSERT"
    conn.register("_frame", frame)
    try:
        conn.execute(f"{verb} INTO {table} ({columns}) SELECT {columns} FROM _frame")
    finally:
        conn.unregister("_frame")
