"""Where production traffic is read from, as one DuckDB relation.

A traffic source is one of (``TrafficSource.parse`` tells them apart):

* a Parquet or CSV file: ``exports/traffic-2026-11.parquet``;
* a glob of such files, partitioned exports included (``exports/**/*.parquet``; Hive-style
  folders such as ``month=2026-11/region=de/`` become columns, so ``region`` may come from
  the folder name);
* either of them in object storage (``s3://bucket/traffic/*.parquet``, ``gs://``, ``https://``),
  read by DuckDB's httpfs extension, which DuckDB downloads on first use;
* a table of another database: ``duckdb:PATH#[schema.]table``, where ``PATH`` is what DuckDB's
  ``ATTACH`` accepts (a DuckDB file; ``md:name`` and other database types need their
  extension). It is attached read-only, and nothing it holds may then read files or the
  network (a view calling ``read_text``, say).

The relation is the view ``traffic_source``: the source's own columns and, for the messages of
bad rows, ``_file`` (the file's index in :attr:`OpenedSource.files`; 0 for a table) and
``_row`` (the row's place in its file, from 1; a table's ``rowid`` + 1), and ``_pos``, the
pair as one number that sorts in file order.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from pathlib import Path

FORMATS = {".parquet": "parquet", ".csv": "csv"}
TABLE_PREFIX = "duckdb:"
TABLE_ALIAS = "traffic_db"
VIEW = "traffic_source"
GLOB_CHARACTERS = frozenset("*?[")
# A URL scheme DuckDB reads through an extension (httpfs, azure, ...), never a local path.
REMOTE_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
ROW_BITS = 40  # _pos = _file << ROW_BITS | _row: 2^40 rows a file, 2^23 files
IDENTIFIER = r'(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+")'
TABLE_NAME = re.compile(rf"^({IDENTIFIER})(?:\.({IDENTIFIER}))?$")


class TrafficFileError(ValueError):
    """The traffic source cannot be used; the message names the file, row and field."""


def sql_string(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def sql_identifier(name: str) -> str:
    """An identifier as the setting wrote it (bare, or in double quotes), quoted for SQL."""
    bare = name[1:-1].replace('""', '"') if name.startswith('"') else name
    return '"' + bare.replace('"', '""') + '"'


@dataclass(frozen=True)
class TrafficSource:
    """The traffic setting, parsed: see the module docstring for the forms it takes."""

    text: str

    @classmethod
    def parse(cls, source: str | Path) -> TrafficSource:
        text = str(source)
        if not text.strip():
            raise TrafficFileError("the traffic source is empty: name a file, a glob or a table")
        return cls(text)

    @property
    def is_table(self) -> bool:
        return self.text.startswith(TABLE_PREFIX)

    @property
    def is_remote(self) -> bool:
        return bool(REMOTE_SCHEME.match(self.database if self.is_table else self.text))

    @property
    def is_glob(self) -> bool:
        return not self.is_table and bool(GLOB_CHARACTERS & set(self.text))

    @property
    def database(self) -> str:
        """The database part of ``duckdb:PATH#table``."""
        return self.text[len(TABLE_PREFIX):].rpartition("#")[0]

    @property
    def table(self) -> str:
        """The table part of ``duckdb:PATH#table``, quoted for SQL, under the attached alias."""
        name = self.text.rpartition("#")[2]
        match = TABLE_NAME.match(name)
        if "#" not in self.text or not self.database or not match:
            raise TrafficFileError(
                f"{self.text}: a table source reads duckdb:DATABASE#[schema.]table, e.g. "
                "duckdb:exports/prod.duckdb#analytics.requests")
        parts = [part for part in match.groups() if part]
        return ".".join([TABLE_ALIAS, *(sql_identifier(part) for part in parts)])

    def problem(self) -> str | None:
        """Why this source cannot be read, where that is known without reading it: a local
        file that is missing, a local glob that matches nothing, a table setting that is not
        ``duckdb:DATABASE#table`` or whose database file is missing; None otherwise."""
        if self.is_table:
            try:
                self.table  # noqa: B018 - checks the setting's syntax
            except TrafficFileError as error:
                return str(error).removeprefix(f"{self.text}: ")
            local = not re.match(r"^[A-Za-z][A-Za-z0-9_]*:", self.database)
            if local and not Path(self.database).is_file():
                return f"no such database file {self.database}"
            return None
        if self.is_remote:
            return None
        if self.is_glob:
            return None if glob.glob(self.text, recursive=True) else "no file matches"
        return None if Path(self.text).is_file() else "no such file"

    def open(self, conn) -> OpenedSource:
        """Creates the view ``traffic_source`` over this source in DuckDB connection ``conn``."""
        if self.is_table:
            return self._open_table(conn)
        files = self._files(conn)
        kind = _format(self.text, files)
        listed = "[" + ", ".join(sql_string(name) for name in files) + "]"
        if kind == "parquet":
            scan = (f"SELECT * EXCLUDE (file_row_number), file_index AS _file, "
                    "file_row_number + 1 AS _row "
                    f"FROM read_parquet({listed}, file_row_number = true, union_by_name = true)")
        else:  # every field as text: the checks, not a type sniffer, decide what a value is
            scan = (f"SELECT *, file_index AS _file, ordinality AS _row "
                    f"FROM read_csv({listed}, header = true, delim = ',', quote = '\"', "
                    "escape = '\"', all_varchar = true, union_by_name = true) WITH ORDINALITY")
        _create_view(conn, scan, self.text)
        return OpenedSource(self, conn, tuple(files), kind)

    def _files(self, conn) -> list[str]:
        if not self.is_glob:
            if not self.is_remote and not Path(self.text).is_file():
                raise TrafficFileError(f"{self.text}: traffic file not found")
            _format(self.text, [self.text])
            return [self.text]
        try:
            files = [row[0] for row in conn.execute("SELECT file FROM glob(?) ORDER BY file",
                                                    [self.text]).fetchall()]
        except Exception as error:  # duckdb.Error: an object store without its extension
            raise TrafficFileError(f"{self.text}: cannot list the files: "
                                   f"{_first_line(error)}") from error
        if not files:
            raise TrafficFileError(f"{self.text}: no traffic file matches")
        return files

    def _open_table(self, conn) -> OpenedSource:
        table = self.table
        try:
            conn.execute(f"ATTACH {sql_string(self.database)} AS {TABLE_ALIAS} (READ_ONLY)")
        except Exception as error:
            raise TrafficFileError(f"{self.text}: cannot attach {self.database}: "
                                   f"{_first_line(error)}") from error
        # What the attached database holds (a view calling read_text, say) reads no file and
        # reaches no network from here on.
        conn.execute("SET enable_external_access = false")
        try:
            conn.execute(f"SELECT rowid FROM {table} LIMIT 0")
            row = "rowid + 1"
        except Exception:  # a view has no rowid: its rows are numbered as they come
            row = "row_number() OVER ()"
        _create_view(conn, f"SELECT *, 0 AS _file, {row} AS _row FROM {table}", self.text)
        return OpenedSource(self, conn, (), "table")


def _format(text: str, files: list[str]) -> str:
    kinds = {FORMATS.get(Path(name).suffix.lower()) for name in files}
    if None in kinds:
        odd = next(name for name in files if Path(name).suffix.lower() not in FORMATS)
        raise TrafficFileError(f"{odd}: unsupported traffic file type (use .parquet or .csv)")
    if len(kinds) > 1:
        raise TrafficFileError(f"{text}: matches both Parquet and CSV files; "
                               "use one glob per format")
    return kinds.pop()


def _create_view(conn, scan: str, text: str) -> None:
    try:
        conn.execute(f"CREATE OR REPLACE TEMP VIEW {VIEW} AS SELECT *, "
                     f"(_file::BIGINT << {ROW_BITS}) | _row::BIGINT AS _pos FROM ({scan})")
        conn.execute(f"DESCRIBE {VIEW}").fetchall()
    except TrafficFileError:
        raise
    except Exception as error:
        raise TrafficFileError(f"{text}: cannot be read: {_first_line(error)}") from error


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


@dataclass(frozen=True)
class OpenedSource:
    """A source opened as the view ``traffic_source`` in ``conn``."""

    source: TrafficSource
    conn: object
    files: tuple[str, ...]
    format: str  # parquet, csv or table

    def columns(self) -> dict[str, str]:
        """The source's columns and their DuckDB types, less the position columns."""
        rows = self.conn.execute(f"DESCRIBE {VIEW}").fetchall()
        return {name: kind for name, kind, *_ in rows if name not in ("_file", "_row", "_pos")}

    def place(self, pos: int) -> str:
        """Where the row at ``_pos`` is, as messages say it: ``FILE, row N`` (N counted from 1
        in that file), or ``SOURCE, row N`` for one file or a table."""
        file_index, row = pos >> ROW_BITS, pos & ((1 << ROW_BITS) - 1)
        if self.format == "csv" and file_index:  # ordinality counts on across the files
            row -= self.conn.execute(
                f"SELECT count(*) FROM {VIEW} WHERE _file < ?", [file_index]).fetchone()[0]
        where = self.files[file_index] if len(self.files) > 1 else self.source.text
        return f"{where}, row {row}"
