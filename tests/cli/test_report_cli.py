"""`llm-migrate report`: a missing warehouse or a bad --out is one line; an empty warehouse
still gives a page that says what is missing. The report of a real run is tested with the
pipeline (tests/dagster_layer/test_pipeline_e2e.py)."""

import duckdb

from pipeline.data.warehouse import apply_schema


def test_a_missing_warehouse_is_one_line(run_cli, tmp_path):
    missing = tmp_path / "missing.duckdb"
    done = run_cli("report", "--db", str(missing))
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert f"{missing}: no such warehouse file" in line and "make demo" in line
    assert not missing.exists()


def test_a_file_that_is_no_duckdb_database_is_one_line(run_cli, tmp_path):
    notes = tmp_path / "notes.duckdb"
    notes.write_text("not a database\n" * 100)
    done = run_cli("report", "--db", str(notes))
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert "cannot be opened as a DuckDB warehouse" in line


def test_an_empty_warehouse_gives_a_page_that_says_so(run_cli, tmp_path, monkeypatch):
    database = tmp_path / "empty.duckdb"
    with duckdb.connect(str(database)) as conn:
        apply_schema(conn)
    monkeypatch.setenv("LLM_MIGRATE_ARTIFACTS", str(tmp_path / "artifacts"))
    done = run_cli("report", "--db", str(database))  # --out left out: under the artifacts
    assert done.returncode == 0, done.stderr
    written = tmp_path / "artifacts" / "migration_report.html"
    assert done.stdout.strip() == str(written)
    assert "holds no decisions yet" in done.stderr
    html = written.read_text()
    assert "No decision yet" in html and "No drift check has run" in html


def test_out_must_name_a_file_in_a_folder_that_exists(run_cli, tmp_path):
    database = tmp_path / "w.duckdb"
    with duckdb.connect(str(database)) as conn:
        apply_schema(conn)
    for out, says in ((tmp_path, "is a folder"), (tmp_path / "no" / "r.html", "no folder")):
        done = run_cli("report", "--db", str(database), "--out", str(out))
        assert done.returncode == 2
        [line] = done.stderr.strip().splitlines()
        assert says in line
