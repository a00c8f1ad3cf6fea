"""The DuckDB warehouse every asset reads and writes; BI tools read the same file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster import ConfigurableResource
from dagster_duckdb import DuckDBResource

from pipeline.data.snapshot import STORAGE_COMPATIBILITY
from pipeline.data.warehouse import apply_schema

# Databases this process has already brought up to the schema: assets connect once per model
# or chunk, and the DDL need not run again each time.
_SCHEMA_APPLIED: set[str] = set()


class Warehouse(DuckDBResource):
    """A DuckDB file (or MotherDuck ``md:`` database) with the project's schema applied."""

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        in_memory = self.database == ":memory:"  # a fresh database on every connection
        recreated = False
        if not in_memory and not self.database.startswith("md:"):
            Path(self.database).parent.mkdir(parents=True, exist_ok=True)
            recreated = not Path(self.database).exists()  # e.g. removed by `make clean`
            if recreated:  # in the format DuckDB 1.4 clients read; a file keeps its format
                duckdb.connect(self.database, config={
                    "storage_compatibility_version": STORAGE_COMPATIBILITY}).close()
        with self.get_connection() as conn:
            # dagster_duckdb closes the connection only when the block ends without an
            # exception; a failed step would otherwise keep the file open in this process.
            try:
                if in_memory or recreated or self.database not in _SCHEMA_APPLIED:
                    apply_schema(conn)
                    _SCHEMA_APPLIED.add(self.database)
                yield conn
            finally:
                conn.close()


class BISnapshot(ConfigurableResource):
    """Where the BI snapshot is published (pipeline.data.snapshot): a local file BI opens
    read-only. With a MotherDuck warehouse (``md:``), BI tools connect to MotherDuck instead."""

    path: str
