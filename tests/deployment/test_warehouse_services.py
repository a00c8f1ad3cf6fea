"""The warehouse setting is any DuckDB database string: only a local file is treated as one.

MotherDuck, Quack and DuckLake are DuckDB extensions that download at run time, which this
machine cannot do: these tests check what happens up to DuckDB's attempt to load the extension
(no folder made, no existence check, no copy, the token never shown), with extension
auto-install off so that no test reaches for the network.
"""

import os

import duckdb
import pytest

from pipeline.cli.drift_scenario import run_drift_scenario
from pipeline.cli.inputs import check_warehouse
from pipeline.config import Settings
from pipeline.data.database import describe, extension_prefix, is_local_file, is_memory
from resources import Warehouse

OFFLINE = {"autoinstall_known_extensions": False}
SERVICES = ["md:prod", "motherduck:prod", "quack:localhost:9494",
            "ducklake:postgres:dbname=lake host=db", "s3://bucket/warehouse.duckdb"]


@pytest.mark.parametrize("database, local, prefix", [
    ("data/llm_migrate.duckdb", True, None),
    ("/abs/path/w.duckdb", True, None),
    ("C:/users/w.duckdb", True, None),  # a drive letter is no extension
    ("w:1.duckdb", True, None),
    ("./quack:x.duckdb", True, None),  # a path that happens to hold a colon
    (":memory:", False, None),
    ("md:", False, "md"),
    ("md:prod", False, "md"),
    ("quack:localhost:9494", False, "quack"),
    ("ducklake:postgres:dbname=lake", False, "ducklake"),
    ("s3://bucket/w.duckdb", False, None),
    ("https://host/w.duckdb", False, None),
])
def test_a_database_string_is_classified_by_duckdbs_own_rule(database, local, prefix):
    assert is_local_file(database) is local
    assert extension_prefix(database) == prefix
    assert ("local" in describe(database)) is local


def test_memory_is_neither_file_nor_service():
    assert is_memory(":memory:") and not is_local_file(":memory:")
    assert describe(":memory:") == "in-memory DuckDB"


# (md: is opened by dagster-duckdb's own connect, which retries a failure for about 100 s)
@pytest.mark.parametrize("database", ["quack:localhost:9494", "ducklake:postgres:dbname=lake"])
def test_a_service_warehouse_makes_no_file_and_names_the_missing_extension(
        tmp_path, monkeypatch, database):
    monkeypatch.chdir(tmp_path)
    warehouse = Warehouse(database=database, connection_config=OFFLINE)
    with pytest.raises(duckdb.Error, match=f'Extension "{extension_prefix(database)}"'):
        with warehouse.connect():
            pass
    assert os.listdir(tmp_path) == []  # no folder, no file named after the string


def test_a_quack_token_is_passed_to_attach_and_never_shown(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    warehouse = Warehouse(database="quack:db.internal:9494", token="quack-secret-42",
                          attach_options="READ_ONLY false", connection_config=OFFLINE)
    with pytest.raises(duckdb.Error) as caught:
        with warehouse.connect():
            pass
    assert "quack:db.internal:9494: cannot attach the warehouse" in str(caught.value)
    assert "quack-secret-42" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_the_token_comes_from_the_environment_through_envvar(monkeypatch):
    from dagster import EnvVar

    from assets.definitions import resources

    monkeypatch.setenv("LLM_MIGRATE_DB_TOKEN", "quack-secret-42")
    monkeypatch.setenv("LLM_MIGRATE_DB_ATTACH", "DATA_PATH 's3://lake/data/'")
    warehouse = resources(Settings.from_env())["warehouse"]
    assert warehouse.token == EnvVar("LLM_MIGRATE_DB_TOKEN")  # resolved at run time only
    assert warehouse.attach_options == "DATA_PATH 's3://lake/data/'"
    monkeypatch.delenv("LLM_MIGRATE_DB_TOKEN")
    assert resources(Settings.from_env())["warehouse"].token is None


@pytest.mark.parametrize("database", SERVICES)
def test_reading_a_service_warehouse_checks_no_file(database):
    check_warehouse(database)  # no "no such warehouse file": DuckDB decides when it connects


def test_a_local_warehouse_file_is_still_checked(tmp_path):
    from pipeline.cli.inputs import InputError

    with pytest.raises(InputError, match="no such warehouse file"):
        check_warehouse(str(tmp_path / "missing.duckdb"))


def test_the_drift_scenario_never_copies_a_service_warehouse(capsys):
    assert run_drift_scenario(defs=None, database="md:prod") == 1
    assert "plays on a copy of a local warehouse file" in capsys.readouterr().err


def test_a_local_file_is_created_in_the_format_older_clients_read(tmp_path):
    database = tmp_path / "new" / "folder" / "w.duckdb"
    with Warehouse(database=str(database)).connect() as conn:
        assert conn.execute("SELECT count(*) FROM schema_version").fetchone()[0] > 0
    assert database.is_file()
