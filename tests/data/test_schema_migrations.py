"""Schema migrations on real DuckDB files: a warehouse built by 0.1.0 is upgraded in place, test
migrations run in order and atomically, a newer warehouse is refused, and sql/tables (what a
fresh warehouse is created from) matches what the real migrations make of a 0.1.0 warehouse.

schema_0_1_0/ is a frozen copy of sql/tables as released in 0.1.0: never edit it."""

from pathlib import Path

import duckdb
import pytest

from pipeline.data.warehouse import (
    MIGRATIONS_DIR,
    MigrationError,
    apply_schema,
    latest_version,
    migrations,
    schema_version,
)

RELEASE_0_1_0 = Path(__file__).parent / "schema_0_1_0"

ROWS = {
    "traffic": """INSERT INTO traffic VALUES
        ('r1', '2025-01-01 10:00:00+00', 'EU', 'en', false, NULL, 'What is 2+2?', '4',
         '2025-01-02 00:00:00+00'),
        ('r2', '2025-01-01 11:00:00+00', 'US', 'en', true, 'be nice', 'Hack a bank', NULL,
         '2025-01-02 00:00:00+00')""",
    "responses": """INSERT INTO responses VALUES
        ('r1', 'old', '4', 'ok', NULL, 1, 120.0, 10, 2, 0.001, 'h1', '2025-01-03 00:00:00+00'),
        ('r2', 'old', 'No.', 'ok', NULL, 1, 80.0, 12, 3, 0.002, 'h2', '2025-01-03 00:00:00+00'),
        ('r1', 'new', NULL, 'error', 'Timeout', 3, NULL, NULL, NULL, NULL, 'h3',
         '2025-01-03 00:00:00+00')""",
    "auto_scores": """INSERT INTO auto_scores VALUES
        ('r1', 'old', 'rouge_l_f', 'v1', 0.9, '2025-01-04 00:00:00+00'),
        ('r1', 'old', 'refusal', 'v1', 1.0, '2025-01-04 00:00:00+00')""",
    "human_labels": """INSERT INTO human_labels VALUES
        ('r1', 'old', 'correctness', 'ann', 5, '2025-01-05 00:00:00+00', 'labels.csv')""",
    "decisions": """INSERT INTO decisions VALUES
        ('new', 'old', 'correctness', 'ALL', 0.1, -0.05, 0.2, 0.95, 0.1, 0.99, 'migrate', 40,
         NULL, '2025-01-06 00:00:00+00')""",
}

ADD_COLUMN = "ALTER TABLE responses ADD COLUMN total_tokens INTEGER;\n"
BACKFILL = "-- the column of 0002, for the rows written before it\n" \
           "UPDATE responses SET total_tokens = tokens_in + tokens_out;\n"


def build_0_1_0(path: Path) -> Path:
    """A warehouse as the 0.1.0 release left it: its DDL, some rows, no schema_version."""
    with duckdb.connect(str(path)) as conn:
        for ddl in sorted(RELEASE_0_1_0.glob("*.sql")):
            conn.execute(ddl.read_text())
        for insert in ROWS.values():
            conn.execute(insert)
    return path


def counts(conn) -> dict[str, int]:
    return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in ROWS}


def versions(conn) -> list[tuple[int, str]]:
    return conn.execute("SELECT version, name FROM schema_version ORDER BY version").fetchall()


def columns(conn) -> set[tuple[str, str, str, str]]:
    return set(conn.execute("""
        SELECT c.table_name, c.column_name, c.data_type, c.is_nullable
        FROM information_schema.columns c JOIN information_schema.tables t
          ON t.table_catalog = c.table_catalog AND t.table_schema = c.table_schema
         AND t.table_name = c.table_name
        WHERE t.table_type = 'BASE TABLE' AND t.table_catalog = current_database()""").fetchall())


def views(conn) -> set[str]:
    return {name for (name,) in conn.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal "
        "AND database_name = current_database()").fetchall()}


def migrations_dir(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (folder / f"{name}.sql").write_text(sql)
    return folder


REAL = [(path.stem, path.read_text()) for path in sorted(MIGRATIONS_DIR.glob("*.sql"))]
LATEST = 1 + len(REAL)  # the real schema version; the test migrations come after it


def numbered(offset: int, name: str) -> str:
    return f"{LATEST + offset:04d}_{name}"


@pytest.fixture
def test_migrations(tmp_path):
    """The real migrations (the views need what they add), then two of the test's own."""
    return migrations_dir(tmp_path, **dict(REAL),
                          **{numbered(1, "responses_total_tokens"): ADD_COLUMN,
                             numbered(2, "backfill_total_tokens"): BACKFILL})


def test_a_0_1_0_warehouse_is_upgraded_in_place(tmp_path):
    db = build_0_1_0(tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(db)) as conn:
        before = counts(conn)
        apply_schema(conn)
    with duckdb.connect(str(db)) as conn:  # committed to the file, not just this connection
        assert counts(conn) == before
        assert versions(conn)[0] == (1, "baseline")
        assert schema_version(conn) == latest_version() == LATEST
        assert versions(conn)[1] == (2, "0002_fit_diagnostics.sql")
        assert conn.execute("SELECT count(*) FROM fit_diagnostics").fetchone() == (0,)
        assert views(conn) == {p.stem for p in (MIGRATIONS_DIR.parent / "views").glob("*.sql")}
        stats = dict(conn.execute(
            "SELECT model, requests FROM v_replay_stats ORDER BY model").fetchall())
        assert stats == {"new": 1, "old": 2}
        assert conn.execute("SELECT candidate, verdict FROM v_migration_verdict").fetchall() \
            == [("new", "migrate")]
        assert conn.execute("SELECT rouge_l_f, refusal FROM v_auto_scores_wide").fetchall() \
            == [(0.9, 1.0)]


@pytest.mark.parametrize("start", ["0.1.0", "version 1"])
def test_migrations_run_in_order_once(tmp_path, test_migrations, start):
    db = build_0_1_0(tmp_path / "warehouse.duckdb")
    if start == "version 1":  # stamped by the first release that versioned its schema
        with duckdb.connect(str(db)) as conn:
            conn.execute((MIGRATIONS_DIR.parent / "tables" / "schema_version.sql").read_text())
            conn.execute("INSERT INTO schema_version VALUES (1, 'baseline', now())")
            assert versions(conn) == [(1, "baseline")]
    with duckdb.connect(str(db)) as conn:
        before = counts(conn)
        apply_schema(conn, migrations_dir=test_migrations)
    with duckdb.connect(str(db)) as conn:
        assert versions(conn) == [
            (1, "baseline"), *((i + 2, f"{name}.sql") for i, (name, _) in enumerate(REAL)),
            (LATEST + 1, numbered(1, "responses_total_tokens.sql")),
            (LATEST + 2, numbered(2, "backfill_total_tokens.sql"))]
        assert counts(conn) == before
        assert conn.execute("SELECT request_id, model, total_tokens FROM responses "
                            "ORDER BY ALL").fetchall() \
            == [("r1", "new", None), ("r1", "old", 12), ("r2", "old", 15)]
        stamped = conn.execute("SELECT * FROM schema_version ORDER BY version").fetchall()
        apply_schema(conn, migrations_dir=test_migrations)  # 0002 again would fail: column exists
        assert conn.execute("SELECT * FROM schema_version ORDER BY version").fetchall() == stamped
        assert counts(conn) == before


def test_a_failing_migration_leaves_the_previous_version(tmp_path, test_migrations):
    db = build_0_1_0(tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(db)) as conn:
        apply_schema(conn, migrations_dir=test_migrations)
        # its first statement works; the whole file must be rolled back with the second
        (test_migrations / f"{numbered(3, 'broken')}.sql").write_text(
            "ALTER TABLE responses ADD COLUMN half_done INTEGER;\n"
            "UPDATE responses SET half_done = no_such_column;\n")
        with pytest.raises(MigrationError, match=rf"{numbered(3, 'broken')}\.sql.*stays at "
                                                 rf"schema version {LATEST + 2}"):
            apply_schema(conn, migrations_dir=test_migrations)
    with duckdb.connect(str(db)) as conn:
        assert schema_version(conn) == LATEST + 2
        names = {name for (name,) in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'responses'").fetchall()}
        assert "total_tokens" in names and "half_done" not in names
        assert counts(conn)["responses"] == 3


def test_a_warehouse_newer_than_this_code_is_refused(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as conn:
        apply_schema(conn)
        future = LATEST + 1
        conn.execute(f"INSERT INTO schema_version VALUES ({future}, '{future:04d}_future.sql', "
                     "now())")
        before = columns(conn)
        newer = rf"schema version {future}, newer than this code knows \(latest {LATEST}"
        with pytest.raises(MigrationError, match=newer) as error:
            apply_schema(conn)
        assert str(db) in str(error.value) and "never downgrades" in str(error.value)
        assert columns(conn) == before and schema_version(conn) == future


def test_a_fresh_warehouse_is_created_at_the_latest_version(tmp_path):
    # sql/tables is the latest schema: no migration runs on a fresh warehouse (this one would fail)
    folder = migrations_dir(tmp_path, **{"0002_never_run": "SELECT no_such_column;\n",
                                         "0003_nor_this": "SELECT no_such_column;\n"})
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        apply_schema(conn, migrations_dir=folder)
        assert versions(conn) == [(1, "baseline"), (2, "0002_never_run.sql"),
                                  (3, "0003_nor_this.sql")]
        assert {"traffic", "responses", "schema_version"} <= {t for t, *_ in columns(conn)}


@pytest.mark.parametrize("files, message", [
    ({"0001_first": ""}, "numbered 0002, 0003"),
    ({"0002_a": "", "0004_c": ""}, "without gaps"),
    ({"0002_a": "", "0002_b": ""}, "or repeats"),
    ({"2_Add-Column": ""}, "NNNN_short_name.sql"),
])
def test_a_malformed_migrations_dir_is_refused(tmp_path, files, message):
    with pytest.raises(MigrationError, match=message):
        migrations(migrations_dir(tmp_path, **files))


def test_fresh_and_upgraded_warehouses_have_the_same_schema(tmp_path):
    """The contract between sql/tables and sql/migrations: a commit that adds a migration must
    change sql/tables to the same shape (columns' names, types and nullability)."""
    with duckdb.connect(str(tmp_path / "fresh.duckdb")) as fresh:
        apply_schema(fresh)
        fresh_columns, fresh_views = columns(fresh), views(fresh)
        assert schema_version(fresh) == latest_version()
    with duckdb.connect(str(build_0_1_0(tmp_path / "upgraded.duckdb"))) as upgraded:
        apply_schema(upgraded)
        assert schema_version(upgraded) == latest_version()
        assert columns(upgraded) == fresh_columns, (
            "sql/tables and sql/migrations disagree; only in fresh: "
            f"{sorted(fresh_columns - columns(upgraded))}, only in upgraded: "
            f"{sorted(columns(upgraded) - fresh_columns)}")
        assert views(upgraded) == fresh_views


def test_the_all_traffic_rows_of_an_old_warehouse_become_region_null(tmp_path):
    """0007: 'ALL' marked the all-traffic rows before; after it region NULL does, so a region
    may be called 'ALL' (and its rows stay its own)."""
    db = build_0_1_0(tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(db)) as conn:
        conn.execute("INSERT INTO delta_draws VALUES ('new', 'old', 'correctness', 'ALL', 0, 0.1),"
                     " ('new', 'old', 'correctness', 'EU', 0, 0.2)")
        apply_schema(conn)
        assert conn.execute("SELECT region, delta FROM delta_draws ORDER BY delta").fetchall() \
            == [(None, 0.1), ("EU", 0.2)]
        assert conn.execute("SELECT region FROM decisions").fetchall() == [(None,)]
        assert conn.execute("SELECT verdict, by_dimension FROM v_migration_verdict").fetchall() \
            == [("migrate", "correctness=migrate")]
        # a region named ALL is a region like any other now
        conn.execute("""INSERT INTO decisions (candidate, incumbent, dimension, region,
            delta_mean, ci_low, ci_high, prob, margin, p_better, decision, n_labels, fitted_at)
            VALUES ('new', 'old', 'correctness', 'ALL', -1, -2, 0, 0.95, 0.1, 0.01, 'hold', 5,
                    '2025-01-06 00:00:00+00')""")
        assert conn.execute("SELECT verdict, blocking_regions FROM v_migration_verdict"
                            ).fetchall() == [("hold", "correctness/ALL=hold")]
