"""What a warehouse setting (a DuckDB database string) names: a local file, memory, or a
database on a service that a DuckDB extension reaches.

| string | what | reached by |
|---|---|---|
| ``data/llm_migrate.duckdb`` | a local DuckDB file (the default) | DuckDB itself |
| ``:memory:`` | a fresh in-memory database per connection (tests) | DuckDB itself |
| ``md:`` / ``md:my_db`` | MotherDuck | extension ``motherduck`` |
| ``quack:host:port`` | a DuckDB server speaking Quack (DuckDB 2.0) | extension ``quack`` |
| ``ducklake:postgres:dbname=...`` | DuckLake: PostgreSQL catalog, files in S3 | ``ducklake`` |
| ``s3://bucket/file.duckdb`` | a DuckDB file read over HTTP(S)/S3, read-only | ``httpfs`` |

Only a local file gets file-system treatment (its folder created, its existence checked, a
copy taken beside it); everything else is handed to DuckDB as it is.
"""

from __future__ import annotations

MEMORY = ":memory:"
# MotherDuck is opened as the main database (its documented way); other services are attached.
MOTHERDUCK_PREFIXES = ("md", "motherduck")


def extension_prefix(database: str) -> str | None:
    """The extension a database string names (``quack`` for ``quack:host``), by DuckDB's own
    rule: the text before the first ``:``, at least two characters (``C:`` is a drive), all
    letters, digits or ``_``, and not followed by ``//`` (that is a URL). None otherwise."""
    head, colon, rest = database.partition(":")
    if not colon or len(head) < 2 or rest.startswith("//"):
        return None
    return head if all(ch.isalnum() or ch == "_" for ch in head) else None


def is_memory(database: str) -> bool:
    return database == "" or database.startswith(MEMORY)


def is_url(database: str) -> bool:
    """A file reached over the network (``s3://``, ``https://``): read-only for DuckDB."""
    return "://" in database


def is_local_file(database: str) -> bool:
    """A DuckDB file on this machine's file system, the only kind whose folder the pipeline
    may create or whose existence it may check."""
    return not (is_memory(database) or is_url(database) or extension_prefix(database))


def is_motherduck(database: str) -> bool:
    return extension_prefix(database) in MOTHERDUCK_PREFIXES


def describe(database: str) -> str:
    """A few words for logs and errors: which kind of warehouse this is."""
    if is_local_file(database):
        return "local DuckDB file"
    if is_memory(database):
        return "in-memory DuckDB"
    if is_url(database):
        return "remote DuckDB file (read-only)"
    return f"DuckDB database on a service (extension {extension_prefix(database)!r})"
