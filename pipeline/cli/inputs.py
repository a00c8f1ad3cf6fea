"""What a user types at the command line, checked once: files and warehouses.

Every problem is an :class:`InputError`, which ``llm-migrate`` prints as one line naming the
path (and what would fix it) and exits with status 2: never a traceback.

A warehouse the CLI reads may have come from anyone, so it is opened read-only with DuckDB's
external access disabled: its views cannot read local files, reach the network or load
extensions (a view calling ``read_text('/etc/passwd')`` fails instead of printing the file).
A warehouse on a service (MotherDuck ``md:``, ``quack:``, ``ducklake:``) is reached through an
extension, so there only read-only applies; only a local file is checked for existence.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.data.database import is_local_file
from pipeline.data.warehouse import WarehouseBusy, open_database

# Never run a warehouse's views with access to anything outside it.
NO_EXTERNAL_ACCESS = {"enable_external_access": False}
CREATE_HINT = ("create one by running the pipeline (`make demo` for the offline demo; the "
               "Dagster `migration_job` with LLM_MIGRATE_DB set for your own), or pass --db PATH")


class InputError(Exception):
    """A path given on the command line that cannot be used; the message says which and what
    to do."""


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def check_warehouse(database: str) -> None:
    """A local warehouse file must exist: reading never creates one."""
    if is_local_file(database) and not Path(database).is_file():
        raise InputError(f"{database}: no such warehouse file; {CREATE_HINT}")


@contextmanager
def read_warehouse(database: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to ``database`` with external access disabled (local files).
    A missing file, a file that is no DuckDB database, and a view that reaches outside the
    warehouse are :class:`InputError`; a missing table or view stays a CatalogException for
    the caller to word."""
    check_warehouse(database)
    try:
        conn = open_database(database, read_only=True,
                             config=NO_EXTERNAL_ACCESS if is_local_file(database) else {})
    except WarehouseBusy as busy:
        raise InputError(str(busy)) from None
    except duckdb.Error as error:
        raise InputError(f"{database}: cannot be opened as a DuckDB warehouse: "
                         f"{_first_line(error)}") from None
    try:
        yield conn
    except duckdb.PermissionException as error:
        raise InputError(f"{database}: refused to run it: a view in it reaches outside the "
                         f"warehouse ({_first_line(error)}); llm-migrate reads a warehouse "
                         "with external access disabled. Is it the file you meant?") from None
    finally:
        conn.close()


def read_frame(path: str | Path, what: str = "file") -> pd.DataFrame:
    """A Parquet file, or a CSV when the name ends in .csv; errors name the path."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such {what}")
    kind = "CSV" if path.suffix.lower() == ".csv" else "Parquet"
    try:
        return pd.read_csv(path) if kind == "CSV" else pd.read_parquet(path)
    except Exception as error:  # noqa: BLE001 - any reader failure: the file is unreadable
        raise InputError(f"{path}: cannot be read as {kind} ({_first_line(error)}); give a "
                         ".parquet file, or a .csv") from None

