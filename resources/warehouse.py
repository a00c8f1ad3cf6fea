"""The DuckDB warehouse every asset reads and writes: any DuckDB database string
(pipeline.data.database), a local file by default."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster import ConfigurableResource
from dagster_duckdb import DuckDBResource
from pydantic import Field

from pipeline.data.database import extension_prefix, is_local_file, is_memory, is_motherduck
from pipeline.data.snapshot import STORAGE_COMPATIBILITY, literal
from pipeline.data.warehouse import apply_schema

# Databases this process has already brought up to the schema: assets connect once per model
# or chunk, and the DDL need not run again each time.
_SCHEMA_APPLIED: set[str] = set()
ATTACHED = "warehouse"  # the name a service warehouse is attached under (and USEd)


class Warehouse(DuckDBResource):
    """The warehouse, with the project's schema applied on a process's first connection.

    ``database`` is any DuckDB database string: a local file (its folder is created, and a new
    file is written in the storage format DuckDB 1.4 clients read), ``:memory:``, MotherDuck
    (``md:``, opened directly; its token from ``motherduck_token`` in the environment), or a
    service that a DuckDB extension reaches (``quack:host:port``, ``ducklake:...``), attached to
    an in-memory DuckDB as ``warehouse`` and used as the default database."""

    attach_options: str = Field(
        "", description="options of the ATTACH of a service warehouse, e.g. "
                        "DATA_PATH 's3://bucket/lake/' for a new DuckLake (LLM_MIGRATE_DB_ATTACH)")
    token: str | None = Field(
        None, description="the Quack server's token (LLM_MIGRATE_DB_TOKEN, read through EnvVar; "
                          "never shown)")

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        fresh_file = self._prepare_local_file()
        with self._open() as conn:
            # dagster_duckdb closes the connection only when the block ends without an
            # exception; a failed step would otherwise keep the file open in this process.
            try:
                if is_memory(self.database) or fresh_file \
                        or self.database not in _SCHEMA_APPLIED:
                    apply_schema(conn)
                    _SCHEMA_APPLIED.add(self.database)
                yield conn
            finally:
                conn.close()

    def _prepare_local_file(self) -> bool:
        """For a local file only: create its folder, and the file itself in the format DuckDB
        1.4 clients read (a file keeps its format). True when the file was just created (e.g.
        removed by `make clean` since this process applied the schema)."""
        if not is_local_file(self.database):
            return False
        path = Path(self.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            return False
        duckdb.connect(self.database, config={
            "storage_compatibility_version": STORAGE_COMPATIBILITY}).close()
        return True

    @contextmanager
    def _open(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if not extension_prefix(self.database) or is_motherduck(self.database):
            with self.get_connection() as conn:
                yield conn
            return
        conn = duckdb.connect(":memory:", config=self.connection_config)
        try:
            self._attach(conn)
        except BaseException:
            conn.close()
            raise
        yield conn

    def _attach(self, conn: duckdb.DuckDBPyConnection) -> None:
        options = [self.attach_options] if self.attach_options else []
        if self.token and extension_prefix(self.database) == "quack":
            options.append(f"TOKEN {literal(self.token)}")
        statement = (f"ATTACH {literal(self.database)} AS {ATTACHED}"
                     + (f" ({', '.join(options)})" if options else ""))
        try:
            conn.execute(statement)
        except duckdb.Error as error:
            message = str(error).replace(self.token, "***") if self.token else str(error)
            raise type(error)(f"{self.database}: cannot attach the warehouse: {message}") \
                from None
        conn.execute(f"USE {ATTACHED}")


class BISnapshot(ConfigurableResource):
    """Where the BI snapshot is published (pipeline.data.snapshot): a local file BI opens
    read-only, or an object-store URL (``s3://bucket/bi/llm_migrate.duckdb``) BI tools attach
    read-only over HTTP. With a warehouse on a service, BI tools can also connect to it."""

    path: str
