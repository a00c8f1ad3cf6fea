"""The column schema the UI shows for each table (dagster/column_schema) is read from the DDL in
sql/tables: it must name every column of the real table, with its type and nullability."""

import duckdb

from pipeline.data.warehouse import TABLES_DIR, apply_schema, table_columns


def test_the_documented_columns_are_the_tables_columns(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        apply_schema(conn)
        for path in sorted(TABLES_DIR.glob("*.sql")):
            real = conn.execute(
                "SELECT column_name, data_type, is_nullable = 'YES' FROM "
                "information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                [path.stem]).fetchall()
            documented = [(c["name"], c["type"], c["nullable"]) for c in table_columns(path.stem)]
            assert documented == [(name, kind.replace("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"),
                                   nullable) for name, kind, nullable in real], path.name
    fits = {c["name"]: c["description"] for c in table_columns("fits")}
    assert fits["max_r_hat"] == "the fit's diagnostics for this candidate (as fit_diagnostics): " \
                                "worst r_hat"
