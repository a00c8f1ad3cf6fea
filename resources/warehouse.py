"""The DuckDB warehouse every asset reads and writes; BI tools read the same file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster_duckdb import DuckDBResource

from pipeline.warehouse import apply_schema


class Warehouse(DuckDBResource):
    """A DuckDB file (or MotherDuck ``md:`` database) with the project's schema applied."""

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if not self.database.startswith(("md:", ":memory:")):
            Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        with self.get_connection() as conn:
            apply_schema(conn)
            yield conn
