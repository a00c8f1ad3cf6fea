"""`llm-migrate decisions` on a file that is missing or is not a warehouse: a clear error."""

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
