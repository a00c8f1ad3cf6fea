"""The BI contract is documented where BI users read it: every column of every table in its
DDL (sql/tables/), every column of every view in the view's file (sql/views/), either on its
own line or by the view saying which table's columns it keeps ("Same columns as TABLE")."""

import re

import duckdb
import pytest

from pipeline.data.warehouse import TABLES_DIR, VIEWS_DIR, apply_schema


@pytest.fixture(scope="module")
def schema():
    conn = duckdb.connect()
    apply_schema(conn)
    yield lambda name: [(c, t) for (c, t, *_) in conn.execute(f"DESCRIBE {name}").fetchall()]
    conn.close()


def documented(text: str, column: str) -> bool:
    """Named in a comment, or on a line that carries one."""
    name = re.compile(rf"\b{re.escape(column)}\b")
    return any("--" in line and name.search(line) for line in text.splitlines())


@pytest.mark.parametrize("table", sorted(p.stem for p in TABLES_DIR.glob("*.sql")))
def test_every_table_column_has_a_comment_in_its_ddl(schema, table):
    text = (TABLES_DIR / f"{table}.sql").read_text()
    undocumented = [c for c, _ in schema(table)
                    if not any(re.match(rf"\s*{c}\s", line) and "--" in line
                               for line in text.splitlines())]
    assert undocumented == [], f"sql/tables/{table}.sql: no comment on {undocumented}"


@pytest.mark.parametrize("view", sorted(p.stem for p in VIEWS_DIR.glob("*.sql")))
def test_every_view_column_is_documented_in_its_file(schema, view):
    text = (VIEWS_DIR / f"{view}.sql").read_text()
    comments = " ".join(line.split("--", 1)[1] for line in text.splitlines() if "--" in line)
    same = re.search(r"Same columns as (\w+)", re.sub(r"\s+", " ", comments))
    inherited = {c for c, _ in schema(same.group(1))} if same else set()
    undocumented = [c for c, _ in schema(view)
                    if c not in inherited and not documented(text, c)]
    assert undocumented == [], f"sql/views/{view}.sql: {undocumented} not documented"


README = TABLES_DIR.parents[1] / "README.md"


@pytest.mark.parametrize("view", ["v_migration_verdict", "v_latest_decisions",
                                  "v_calibration_history", "v_drift_status", "v_replay_stats"])
def test_the_readme_lists_each_column_of_the_dashboards_views_with_its_type(schema, view):
    section = README.read_text().split("### The BI contract", 1)[1].split("\n## ", 1)[0]
    listed = [(c, t) for c, t in schema(view) if c != "run"]  # run: named in the prose
    missing = [(c, t) for c, t in listed if f"| `{c}` | {t} |" not in section]
    assert missing == [], f"README, The BI contract: {view} lacks {missing}"
