"""The DuckDB warehouse every asset reads and writes; BI tools read the same file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster import ConfigurableResource
from dagster_duckdb import DuckDBResource
from pydantic import Field

from pipeline.data.snapshot import STORAGE_COMPATIBILITY
from pipeline.data.warehouse import LOCK_WAIT_S, apply_schema, is_local, open_database

# Databases this process has already brought up to the schema: assets connect once per model
# or chunk, and the DDL need not run again each time.
_SCHEMA_APPLIED: set[str] = set()
# DuckDB's refusal to open a file read-only in a process that has it open read-write.
_OTHER_CONFIGURATION = "different configuration"


class Warehouse(DuckDBResource):
    """A DuckDB file (or MotherDuck ``md:`` database) with the project's schema applied.

    Steps hold a connection only for a short read or a short transaction: a DuckDB file takes
    one writing process at a time, so runs and steps in other processes wait (up to
    ``lock_wait_s``) for each other's transactions instead of failing."""

    lock_wait_s: float = Field(
        LOCK_WAIT_S, gt=0,
        description="seconds an open waits while another process holds the file's lock "
                    "before the step fails naming the warehouse")

    def _open(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        return open_database(self.database, read_only=read_only,
                             config={"custom_user_agent": "dagster", **self.connection_config},
                             lock_wait_s=self.lock_wait_s)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection, closed when the block ends (an exception included): keep
        the block short, and never wait on a provider or a model inside it."""
        in_memory = self.database == ":memory:"  # a fresh database on every connection
        recreated = False
        if not in_memory and is_local(self.database):
            Path(self.database).parent.mkdir(parents=True, exist_ok=True)
            recreated = not Path(self.database).exists()  # e.g. removed by `make clean`
            if recreated:  # in the format DuckDB 1.4 clients read; a file keeps its format
                open_database(self.database, lock_wait_s=self.lock_wait_s, config={
                    "storage_compatibility_version": STORAGE_COMPATIBILITY}).close()
        conn = self._open()
        try:
            if in_memory or recreated or self.database not in _SCHEMA_APPLIED:
                apply_schema(conn)
                _SCHEMA_APPLIED.add(self.database)
            yield conn
        finally:
            conn.close()

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection where DuckDB allows one: readers in several processes share
        the file (a writer still waits for them, and they for it). In a process that has the
        file open read-write at the moment (DuckDB allows one configuration per file and
        process), a read-write connection instead."""
        local_file = self.database != ":memory:" and is_local(self.database)
        if not local_file or self.database not in _SCHEMA_APPLIED:
            with self.connect() as conn:  # the schema first, which a read-only one cannot
                yield conn
            return
        try:
            conn = self._open(read_only=True)
        except duckdb.ConnectionException as error:
            if _OTHER_CONFIGURATION not in str(error):
                raise
            conn = self._open()
        try:
            yield conn
        finally:
            conn.close()


class BISnapshot(ConfigurableResource):
    """Where the BI snapshot is published (pipeline.data.snapshot): a local file BI opens
    read-only. With a MotherDuck warehouse (``md:``), BI tools connect to MotherDuck instead."""

    path: str
