"""`llm-migrate decisions` on a file that is missing or is not a warehouse: a clear error."""

import json

import duckdb

from pipeline.cli import main


def test_a_missing_warehouse_is_named(tmp_path, capsys):
    missing = tmp_path / "missing.duckdb"
    assert main(["decisions", "--db", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"{missing}: no such warehouse file" in err and "Traceback" not in err
    assert not missing.exists()  # reading never creates the file


def test_a_duckdb_file_that_is_no_warehouse_is_named(tmp_path, capsys):
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    assert main(["decisions", "--db", str(other)]) == 2
    assert "holds no decisions yet" in capsys.readouterr().err


def test_a_missing_warehouse_says_how_to_create_one(tmp_path, capsys):
    missing = tmp_path / "missing.duckdb"
    assert main(["decisions", "--db", str(missing)]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()  # one line, no traceback
    assert str(missing) in line and "make demo" in line and "--db" in line


def test_a_file_that_is_no_duckdb_database_is_named(tmp_path, capsys):
    other = tmp_path / "notes.duckdb"
    other.write_text("these are my notes, not a database\n" * 100)
    assert main(["decisions", "--db", str(other)]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert f"{other}: cannot be opened as a DuckDB warehouse" in line


def evil_warehouse(path, secret_file):
    """A warehouse someone handed over whose views read a local file."""
    with duckdb.connect(str(path)) as conn:
        for view in ("v_latest_decisions", "v_migration_verdict"):
            conn.execute(f"CREATE VIEW {view} AS SELECT content AS candidate, content AS region "
                         f"FROM read_text('{secret_file}')")


def test_a_warehouse_whose_view_reads_a_local_file_prints_an_error_and_no_content(tmp_path,
                                                                                 capsys):
    secret_file = tmp_path / "passwd"
    secret_file.write_text("root:x:0:0:TOP-SECRET-CONTENT:/root:/bin/bash\n")
    evil = tmp_path / "handed-over.duckdb"
    evil_warehouse(evil, secret_file)
    assert main(["decisions", "--db", str(evil)]) == 2
    out, err = capsys.readouterr()
    assert "TOP-SECRET-CONTENT" not in out + err
    [line] = err.strip().splitlines()
    assert f"{evil}: refused to run it: a view in it reaches outside the warehouse" in line


def test_etc_passwd_stays_unread(tmp_path, capsys):
    evil = tmp_path / "handed-over.duckdb"
    evil_warehouse(evil, "/etc/passwd")
    assert main(["decisions", "--db", str(evil)]) == 2
    out, err = capsys.readouterr()
    assert "root:" not in out + err and "disabled by configuration" in err


def test_bi_publish_copies_such_a_view_without_running_it(tmp_path, capsys):
    secret_file = tmp_path / "passwd"
    secret_file.write_text("TOP-SECRET-CONTENT\n")
    evil = tmp_path / "handed-over.duckdb"
    evil_warehouse(evil, secret_file)
    out = tmp_path / "bi" / "snapshot.duckdb"
    assert main(["bi", "publish", "--db", str(evil), "--out", str(out)]) == 0
    printed, err = capsys.readouterr()
    assert "TOP-SECRET-CONTENT" not in printed + err
    assert json.loads(printed)["views"] == 2  # copied as definitions, never run
