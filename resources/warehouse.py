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
from pipeline.data.warehouse import LOCK_WAIT_S, apply_schema, open_database

# Databases this process has already brought up to the schema: assets connect once per model
# or chunk, and the DDL need not run again each time.
_SCHEMA_APPLIED: set[str] = set()
# DuckDB's refusal to open a file read-only in a process that has it open read-write.
_OTHER_CONFIGURATION = "different configuration"
ATTACHED = "warehouse"  # the name a service warehouse is attached under (and USEd)


class Warehouse(DuckDBResource):
    """The warehouse, with the project's schema applied on a process's first connection.

    ``database`` is any DuckDB database string: a local file (its folder is created, and a new
    file is written in the storage format DuckDB 1.4 clients read), ``:memory:``, MotherDuck
    (``md:``, opened directly; its token from ``motherduck_token`` in the environment), or a
    service that a DuckDB extension reaches (``quack:host:port``, ``ducklake:...``), attached to
    an in-memory DuckDB as ``warehouse`` and used as the default database.

    Steps hold a connection only for a short read or a short transaction: a DuckDB file takes
    one writing process at a time, so runs and steps in other processes wait (up to
    ``lock_wait_s``) for each other's transactions instead of failing."""

    lock_wait_s: float = Field(
        LOCK_WAIT_S, gt=0,
        description="seconds an open waits while another process holds the file's lock "
                    "before the step fails naming the warehouse")
    attach_options: str = Field(
        "", description="options of the ATTACH of a service warehouse, e.g. "
                        "DATA_PATH 's3://bucket/lake/' for a new DuckLake (LLM_MIGRATE_DB_ATTACH)")
    token: str | None = Field(
        None, description="the Quack server's token (LLM_MIGRATE_DB_TOKEN, read through EnvVar; "
                          "never shown)")

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection, closed when the block ends (an exception included): keep
        the block short, and never wait on a provider or a model inside it."""
        fresh_file = self._prepare_local_file()
        conn = self._open()
        try:
            if is_memory(self.database) or fresh_file or self.database not in _SCHEMA_APPLIED:
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
        process), a read-write connection instead; on a service, the service's own."""
        if not is_local_file(self.database) or self.database not in _SCHEMA_APPLIED:
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

    def _config(self) -> dict:
        return {"custom_user_agent": "dagster", **self.connection_config}

    def _open(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        if extension_prefix(self.database) and not is_motherduck(self.database):
            return self._attach()
        return open_database(self.database, read_only=read_only, config=self._config(),
                             lock_wait_s=self.lock_wait_s)

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
        open_database(self.database, lock_wait_s=self.lock_wait_s, config={
            "storage_compatibility_version": STORAGE_COMPATIBILITY}).close()
        return True

    def _attach(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB with the service warehouse attached and in use; the token is
        masked in any error."""
        options = [self.attach_options] if self.attach_options else []
        if self.token and extension_prefix(self.database) == "quack":
            options.append(f"TOKEN {literal(self.token)}")
        statement = (f"ATTACH {literal(self.database)} AS {ATTACHED}"
                     + (f" ({', '.join(options)})" if options else ""))
        conn = duckdb.connect(":memory:", config=self._config())
        try:
            conn.execute(statement)
            conn.execute(f"USE {ATTACHED}")
        except duckdb.Error as error:
            conn.close()
            message = str(error).replace(self.token, "***") if self.token else str(error)
            raise type(error)(f"{self.database}: cannot attach the warehouse: {message}") \
                from None
        return conn


class BISnapshot(ConfigurableResource):
    """Where the BI snapshot is published (pipeline.data.snapshot): a local file BI opens
    read-only, or an object-store URL (``s3://bucket/bi/llm_migrate.duckdb``) BI tools attach
    read-only over HTTP. With a warehouse on a service, BI tools can also connect to it."""

    path: str
