"""The DuckDB schema: current DDL, migrations between versions, and BI views, as .sql files.

- ``sql/tables/*.sql``: the current schema, one documented column per line. A fresh warehouse is
  created from it. It always describes the *latest* version: a commit that adds a migration
  changes the table's file to the new shape too (tests/data/test_schema_migrations.py checks
  that a fresh warehouse and an upgraded 0.1.0 one end up with the same columns).
- ``sql/migrations/NNNN_short_name.sql``: version N takes an existing warehouse from N-1 to N.
  Version 1 is the DDL released with 0.1.0, so the first migration is 0002. See its README.md.
- ``schema_version`` (``sql/tables/schema_version.sql``): the versions a warehouse has been
  through; the greatest is its current schema.
- ``sql/views/*.sql``: the BI views, re-created on every :func:`apply_schema`.

:func:`apply_schema` runs on every process's first connection to a warehouse (the Dagster
resource caches it per database; the CLI calls it on each run). On an up-to-date warehouse it
costs two small catalog queries and the views.

A DuckDB file takes one writing process at a time (and no reader while it writes), so every
process opens it for a short transaction and closes it (:func:`open_database`): a second
process asking meanwhile is told "Could not set lock", and waits and tries again for up to
``lock_wait_s`` seconds before :class:`WarehouseBusy` names the warehouse. Code that both talks
to a provider or a model and writes takes a :data:`Connector` (a function returning a
connection's context manager) rather than a connection, and opens one per write.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from importlib import resources
from pathlib import Path

import duckdb
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random_exponential


def sql_dir() -> Path:
    """The sql/ folder this code reads: the package data ``pipeline/sql`` of an installed
    wheel (the repository's sql/ shipped as the package ``pipeline.sql``, see pyproject.toml),
    else the repository's own sql/ beside pipeline/ in a checkout."""
    packaged = Path(str(resources.files("pipeline") / "sql"))
    if (packaged / "tables").is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "sql"
    if not (checkout / "tables").is_dir():
        raise FileNotFoundError(f"no sql/ folder in {packaged} or {checkout}: the package "
                                "was built without its SQL files; reinstall llm-migrate")
    return checkout


SQL_DIR = sql_dir()
TABLES_DIR = SQL_DIR / "tables"
VIEWS_DIR = SQL_DIR / "views"
MIGRATIONS_DIR = SQL_DIR / "migrations"

BASELINE_VERSION = 1  # what 0.1.0 created, before schema_version existed
BASELINE_NAME = "baseline"
VERSION_TABLE = "schema_version"

_MIGRATION_FILE = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")
_CREATE_TABLE = re.compile(r"CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+(\w+)", re.IGNORECASE)


class MigrationError(RuntimeError):
    """The warehouse cannot be brought to this code's schema: a migration failed (the message
    names its file), the warehouse is newer than this code, or sql/migrations is malformed."""


def migrations(migrations_dir: Path | str = MIGRATIONS_DIR) -> list[tuple[int, Path]]:
    """The migrations as (version, file), in order: versions 2, 3, ... without gap or repeat.
    Files other than *.sql (the README) are not migrations."""
    folder = Path(migrations_dir)
    if not folder.is_dir():
        raise MigrationError(f"migrations directory {folder} does not exist")
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _MIGRATION_FILE.fullmatch(path.name)
        if match is None:
            raise MigrationError(f"{path}: a migration file is named NNNN_short_name.sql "
                                 "(four digits, then lower case letters, digits and _)")
        found.append((int(match[1]), path))
    expected = list(range(BASELINE_VERSION + 1, BASELINE_VERSION + 1 + len(found)))
    if [version for version, _ in found] != expected:
        names = ", ".join(path.name for _, path in found)
        raise MigrationError(f"{folder}: migrations must be numbered {BASELINE_VERSION + 1:04d}, "
                             f"{BASELINE_VERSION + 2:04d}, ... without gaps or repeats "
                             f"(version {BASELINE_VERSION} is the 0.1.0 DDL); found {names}")
    return found


def latest_version(migrations_dir: Path | str = MIGRATIONS_DIR) -> int:
    """The schema version this code creates and upgrades to."""
    found = migrations(migrations_dir)
    return found[-1][0] if found else BASELINE_VERSION


def schema_version(conn: duckdb.DuckDBPyConnection) -> int | None:
    """The warehouse's current schema version; None before apply_schema has stamped one."""
    return _current_version(conn, _tables(conn))


def apply_schema(conn: duckdb.DuckDBPyConnection,
                 migrations_dir: Path | str = MIGRATIONS_DIR) -> None:
    """Bring the warehouse to the latest schema version, then (re)create the views.

    - fresh (none of the project's tables): create them from sql/tables and stamp every
      version up to the latest as applied, in one transaction;
    - built by 0.1.0 (project tables, no schema_version): stamp version 1, then migrate;
    - each pending migration runs in its own transaction with its schema_version row, so a
      failing one leaves the warehouse at the version before it (MigrationError names it);
    - newer than this code knows: MigrationError, and nothing is changed (never a downgrade).
    """
    pending = migrations(migrations_dir)
    latest = pending[-1][0] if pending else BASELINE_VERSION
    tables = _tables(conn)
    version = _current_version(conn, tables)
    if version is None and tables & _project_tables():
        with transaction(conn):  # a warehouse built by 0.1.0
            conn.execute((TABLES_DIR / f"{VERSION_TABLE}.sql").read_text())
            _stamp(conn, BASELINE_VERSION, BASELINE_NAME)
        version = BASELINE_VERSION
    elif version is None:
        with transaction(conn):  # fresh: sql/tables is the latest schema
            for path in sorted(TABLES_DIR.glob("*.sql")):
                conn.execute(path.read_text())
            _stamp(conn, BASELINE_VERSION, BASELINE_NAME)
            for number, path in pending:
                _stamp(conn, number, path.name)
        version = latest
    elif version > latest:
        raise MigrationError(
            f"warehouse {_where(conn)} is at schema version {version}, newer than this code "
            f"knows (latest {latest}, from {Path(migrations_dir)}): upgrade llm-migrate to "
            f"use it; apply_schema never downgrades")
    for number, path in pending:
        if number > version:
            _migrate(conn, number, path)
    for path in sorted(VIEWS_DIR.glob("*.sql")):
        conn.execute(path.read_text())


def _migrate(conn, number: int, path: Path) -> None:
    try:
        with transaction(conn):
            # another connection of this process may have applied it since we looked
            if conn.execute(f"SELECT max(version) FROM {VERSION_TABLE}").fetchone()[0] >= number:
                return
            conn.execute(path.read_text())
            _stamp(conn, number, path.name)
    except Exception as error:
        raise MigrationError(f"migration {path} failed, so the warehouse stays at schema version "
                             f"{number - 1}: {error}") from error


def _tables(conn) -> set[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
        "AND table_catalog = current_database() AND table_schema = current_schema()").fetchall()
    return {name for (name,) in rows}


def _current_version(conn, tables: set[str]) -> int | None:
    if VERSION_TABLE not in tables:
        return None
    return conn.execute(f"SELECT max(version) FROM {VERSION_TABLE}").fetchone()[0]


def _project_tables() -> set[str]:
    names = set()
    for path in TABLES_DIR.glob("*.sql"):
        names.update(_CREATE_TABLE.findall(path.read_text()))
    return names - {VERSION_TABLE}


def _stamp(conn, version: int, name: str) -> None:
    conn.execute(f"INSERT INTO {VERSION_TABLE} (version, name, applied_at) VALUES (?, ?, now())",
                 [version, name])


def _where(conn) -> str:
    path = conn.execute("SELECT path FROM duckdb_databases() "
                        "WHERE database_name = current_database()").fetchone()
    return path[0] if path and path[0] else "(in memory)"


# The write-ahead log a writer of small batches lets grow before DuckDB checkpoints it.
SMALL_WRITES_CHECKPOINT = "1MB"


def defer_checkpoint(conn) -> None:
    """For a writer that opens the file for a few rows at a time (replay's batches of
    answers): checkpoint when the write-ahead log passes ``SMALL_WRITES_CHECKPOINT``, not at
    every close. In the storage format DuckDB 1.4 clients read (the warehouse's), a checkpoint
    writes a table's primary-key index whole, so a batch costs more the more `responses`
    holds (``benchmarks/bench_warehouse_writes.py``: 52 ms at 50k rows, 79 ms at 100k, against
    27 and 32 ms deferred); DuckDB's own 16 MB threshold would move the cost to the log the
    next open reads. A commit is durable in the log: a process killed between checkpoints
    loses nothing."""
    conn.execute("PRAGMA disable_checkpoint_on_shutdown")
    conn.execute(f"SET checkpoint_threshold = '{SMALL_WRITES_CHECKPOINT}'")


@contextmanager
def transaction(conn) -> Iterator[None]:
    """One transaction: committed when the block ends, rolled back when it raises."""
    conn.execute("BEGIN")
    try:
        yield
    except BaseException:
        with suppress(duckdb.Error):  # a failed COMMIT has already rolled back
            conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


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


_COLUMN = re.compile(r"^\s+(\w+)\s+([A-Z]+(?:\[\])?)(.*?)(?:--\s?(.*))?$")
_COMMENT = re.compile(r"^\s+--\s?(.*)$")


def table_columns(table: str) -> list[dict]:
    """The columns of ``sql/tables/<table>.sql`` as its DDL documents them: name, type,
    whether it may be NULL, and the comment beside it (continued on the lines below), for
    the schema Dagster shows (``dagster/column_schema``)."""
    columns: list[dict] = []
    inside = False
    for line in (TABLES_DIR / f"{table}.sql").read_text().splitlines():
        if _CREATE_TABLE.search(line):
            inside = True
            continue
        if not inside or line.startswith(")"):
            inside = inside and not line.startswith(")")
            continue
        comment = _COMMENT.match(line)
        if comment and columns:
            columns[-1]["description"] = f"{columns[-1]['description']} {comment[1]}".strip()
            continue
        column = _COLUMN.match(line)
        if column and column[1].upper() != "PRIMARY":
            columns.append({"name": column[1], "type": column[2],
                            "nullable": "NOT NULL" not in column[3].upper()
                            and "PRIMARY KEY" not in column[3].upper(),
                            "description": (column[4] or "").strip()})
    return columns


def read_query(name: str) -> str:
    """The SQL of ``sql/queries/<name>.sql``: queries live beside the DDL, not in code."""
    return (SQL_DIR / "queries" / f"{name}.sql").read_text()


def replace_tables(conn, frames: dict, appended: dict | None = None) -> None:
    """Replace every row of each table with its frame (``{table: frame}``), and append the
    ``appended`` frames to theirs, all in one transaction: readers see every table old or
    every table new."""
    with transaction(conn):
        for table, frame in frames.items():
            conn.execute(f"DELETE FROM {table}")
            insert_frame(conn, table, frame)
        for table, frame in (appended or {}).items():
            insert_frame(conn, table, frame)


def insert_frame(conn, table: str, frame, or_replace: bool = False) -> None:
    """Insert a DataFrame by column name (so column order does not matter)."""
    if len(frame) == 0:
        return
    columns = ", ".join(frame.columns)
    verb = "INSERT OR REPLACE" if or_replace else "INSERT"
    with registered(conn, "_frame", frame):
        conn.execute(f"{verb} INTO {table} ({columns}) SELECT {columns} FROM _frame")


@contextmanager
def registered(conn, name: str, frame) -> Iterator[None]:
    """``frame`` readable as the view ``name`` inside the block. A statement that failed inside
    a transaction (a constraint violated) leaves it aborted, and the view is then dropped with
    the rollback: the statement's error is the one raised, not the aborted transaction's."""
    conn.register(name, frame)
    try:
        yield
    finally:
        with suppress(duckdb.TransactionException):
            conn.unregister(name)


# --- opening the warehouse: short connections, waiting out another process's lock -----------

LOCK_WAIT_S = 120.0  # how long an open waits for another process's lock before giving up
_LOCKED = "Could not set lock"  # DuckDB's IOException when another process holds the file

Connector = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]


class WarehouseBusy(RuntimeError):
    """Another process held the warehouse's lock for longer than the open was willing to wait."""


def _locked(error: BaseException) -> bool:
    return isinstance(error, duckdb.IOException) and _LOCKED in str(error)


def open_database(database: str, read_only: bool = False, config: dict | None = None,
                  lock_wait_s: float = LOCK_WAIT_S) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect``, waiting while another process holds the file's lock: retried with
    jittered exponential back-off (10 ms growing to 0.5 s) for up to ``lock_wait_s`` seconds,
    then :class:`WarehouseBusy` naming the warehouse. Any other error is raised at once."""
    retrying = Retrying(retry=retry_if_exception(_locked), stop=stop_after_delay(lock_wait_s),
                        wait=wait_random_exponential(multiplier=0.01, max=0.5), reraise=True)
    try:
        return retrying(duckdb.connect, database, read_only=read_only, config=config or {})
    except duckdb.IOException as error:
        if not _locked(error):
            raise
        mode = "read-only" if read_only else "read-write"
        raise WarehouseBusy(
            f"warehouse {database}: another process held its lock for {lock_wait_s:.0f} s, so "
            f"it could not be opened {mode}; a DuckDB file takes one writing process at a "
            f"time (DuckDB said: {error})") from None


def connector(conn_or_connect: duckdb.DuckDBPyConnection | Connector) -> Connector:
    """``conn_or_connect`` as a :data:`Connector`: a connection given as it is (a test's, an
    in-memory database) is handed out again each time and left open."""
    if isinstance(conn_or_connect, duckdb.DuckDBPyConnection):
        return lambda: nullcontext(conn_or_connect)
    return conn_or_connect
