"""``llm-migrate bi publish``: write the read-only BI snapshot of a warehouse.

    llm-migrate bi publish [--db PATH] [--out FILE]

``--db`` defaults to LLM_MIGRATE_DB, ``--out`` to LLM_MIGRATE_BI_SNAPSHOT (a file, or an
object-store URL such as ``s3://bucket/bi/llm_migrate.duckdb``). The warehouse is opened
read-only, with DuckDB's external access disabled once it is attached when it is a local file
(the folder the snapshot is written in alone stays reachable), and the snapshot swapped in
atomically (pipeline.data.snapshot), in the storage format DuckDB 1.4+ clients read; this is
also how a warehouse already written in a newer format is converted for them. Prints what was
published as JSON.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import duckdb

from pipeline.cli.inputs import InputError, check_warehouse
from pipeline.config import Settings
from pipeline.data.database import is_local_file
from pipeline.data.snapshot import is_remote, literal, publish_snapshot


def run_publish(args) -> int:
    settings = Settings.from_env()
    database, out = args.db or settings.database, args.out or settings.bi_snapshot
    check_warehouse(database)
    with duckdb.connect() as conn, tempfile.TemporaryDirectory(prefix="llm_migrate_bi_") as tmp:
        try:  # the warehouse attached read-only: a run may be writing it
            conn.execute(f"ATTACH {literal(database)} AS warehouse (READ_ONLY)")
        except duckdb.Error as error:
            raise InputError(f"{database}: cannot be opened as a DuckDB warehouse: "
                             f"{str(error).strip().splitlines()[0]}") from None
        conn.execute("USE warehouse")
        staging = tmp if is_remote(out) else str(Path(out).resolve().parent)
        if is_local_file(database):
            # From here on nothing but the staging folder is reachable: the warehouse's views
            # are copied, never run, and could not read a file or the network if they were.
            Path(staging).mkdir(parents=True, exist_ok=True)
            conn.execute(f"SET allowed_directories = [{literal(staging + '/')}]")
            conn.execute("SET enable_external_access = false")
        print(json.dumps(publish_snapshot(conn, out, staging=tmp)))
    return 0


def add_parser(commands) -> None:
    bi = commands.add_parser("bi", help="the BI snapshot").add_subparsers(dest="bi_command",
                                                                           required=True)
    publish = bi.add_parser("publish", help="write the read-only BI snapshot of a warehouse")
    publish.add_argument("--db", help="the warehouse (default: LLM_MIGRATE_DB)")
    publish.add_argument("--out", help="the snapshot file or object-store URL (default: "
                                       "LLM_MIGRATE_BI_SNAPSHOT)")
    publish.set_defaults(run=run_publish)
