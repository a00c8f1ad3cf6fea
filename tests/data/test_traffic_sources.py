"""Traffic sources DuckDB reads (a file, a glob of partitioned files, a table of an attached
database, an object-store path) and the set-wide checks, whose messages name the file, the row
within it and the field."""

import duckdb
import pytest

from pipeline.data.traffic import TrafficFileError, TrafficSource, read_sample, read_traffic


def parts(frame, folder, name="part", suffix=".csv", rows=4):
    """``frame`` split into files of ``rows`` rows: part-0, part-1, ... in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, start in enumerate(range(0, len(frame), rows)):
        piece = frame.iloc[start:start + rows]
        path = folder / f"{name}-{index}{suffix}"
        piece.to_csv(path, index=False) if suffix == ".csv" else piece.to_parquet(path)
    return str(folder / f"{name}-*{suffix}")


@pytest.fixture
def export(small_traffic):
    frame = small_traffic.head(12).copy()
    frame["latency_ms"], frame["expects_refusal"] = "12", "false"  # as text, as in a CSV
    for column in ("ts", "prompt", "request_id"):
        frame[column] = frame[column].astype(object)
    return frame


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_glob_reads_every_file_in_order(tmp_path, export, suffix):
    read = read_traffic(parts(export, tmp_path, suffix=suffix))
    assert read["request_id"].tolist() == export["request_id"].tolist()


# (column, bad value, what the message says): in the 3rd file (part-2), its 2nd row
BAD_ROWS = [
    ("prompt", "", "field prompt: empty"),
    ("prompt", " \t\u00a0\u3000", "field prompt: empty"),
    ("request_id", "DUP", "field request_id: duplicate 'DUP'"),
    ("ts", "yesterday", "field ts: not a timestamp: 'yesterday'"),
    ("latency_ms", "-3", "field latency_ms: not a number >= 0: '-3'"),
    ("expects_refusal", "yes", "field expects_refusal: not a boolean (true/false or 1/0): 'yes'"),
    ("model", "  ", "field model: empty, but the row has a logged `response`"),
]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("column, value, says", BAD_ROWS)
def test_a_bad_row_in_a_glob_names_its_file_and_its_row_there(tmp_path, export, suffix,
                                                              column, value, says):
    export["ts"] = export["ts"].astype(str)  # a Parquet column of texts, as some exports write
    export.loc[9, column] = value
    if column == "request_id":
        export.loc[2, column] = value  # its first appearance, in part-0
    with pytest.raises(TrafficFileError) as error:
        read_sample(parts(export, tmp_path, suffix=suffix), 5)
    assert str(error.value).startswith(f"{tmp_path / ('part-2' + suffix)}, row 2, {says}")


def test_a_logged_answer_of_a_model_the_registry_lacks_is_named(tmp_path, export):
    export.loc[5, "model"] = "gpt-unknown"
    path = tmp_path / "t.parquet"
    export.to_parquet(path)
    with pytest.raises(TrafficFileError, match=r"t.parquet, row 6, field model: 'gpt-unknown' "
                                               r"is not a model of the registry "
                                               r"\(\['incumbent-v1', 'b'\]\)"):
        read_sample(path, 5, models=["incumbent-v1", "b"])
    read_sample(path, 5, models=["incumbent-v1", "gpt-unknown"])


def test_checks_run_in_the_order_a_reader_meets_them(tmp_path, export):
    """An empty field is reported before a duplicate id, a duplicate before a bad time, as the
    checks ran on the rows before."""
    export["ts"] = export["ts"].astype(str)
    export.loc[1, "request_id"] = export.loc[0, "request_id"]
    export.loc[2, "ts"] = "never"
    path = tmp_path / "t.parquet"
    export.to_parquet(path)
    with pytest.raises(TrafficFileError, match="row 2, field request_id: duplicate"):
        read_traffic(path)
    export.loc[7, "prompt"] = None
    export.to_parquet(path)
    with pytest.raises(TrafficFileError, match="row 8, field prompt: empty"):
        read_traffic(path)


def test_a_table_of_an_attached_database(tmp_path, small_traffic):
    database = tmp_path / "prod.duckdb"
    with duckdb.connect(str(database)) as conn:
        conn.execute("CREATE SCHEMA analytics")
        conn.register("frame", small_traffic)
        conn.execute("CREATE TABLE analytics.requests AS SELECT * FROM frame")
        conn.execute("CREATE TABLE main.requests AS SELECT * FROM frame LIMIT 10")
        conn.execute("CREATE VIEW analytics.answered AS SELECT * FROM analytics.requests")
    source = f"duckdb:{database}#analytics.requests"
    drawn = read_sample(source, 60, seed=1)
    assert len(drawn.frame) == 60 and sum(drawn.population.values()) == len(small_traffic)
    assert len(read_traffic(f"duckdb:{database}#requests")) == 10  # the main schema
    assert len(read_traffic(f'duckdb:{database}#"analytics"."answered"')) == len(small_traffic)
    with duckdb.connect(str(database)) as conn:
        conn.execute("UPDATE main.requests SET ts = NULL WHERE rowid = 6")
    with pytest.raises(TrafficFileError, match=rf"^duckdb:{database}#requests, row 7, "
                                               "field ts: empty$"):
        read_traffic(f"duckdb:{database}#requests")


@pytest.mark.parametrize("setting, problem", [
    ("duckdb:nowhere.duckdb#requests", "no such database file nowhere.duckdb"),
    ("duckdb:prod.duckdb", "a table source reads duckdb:DATABASE#[schema.]table"),
    ("duckdb:prod.duckdb#a.b.c", "a table source reads duckdb:DATABASE#[schema.]table"),
    ("exports/*.parquet", "no file matches"),
    ("traffic.csv", "no such file"),
    ("s3://bucket/traffic/*.parquet", None),  # known only once read
])
def test_what_is_wrong_with_a_setting_is_said_before_reading(tmp_path, monkeypatch, setting,
                                                             problem):
    monkeypatch.chdir(tmp_path)
    found = TrafficSource.parse(setting).problem()
    assert found == problem if problem is None else problem in found


def test_a_glob_that_matches_nothing_or_mixes_formats(tmp_path, export):
    with pytest.raises(TrafficFileError, match=r"x-\*\.csv: no traffic file matches"):
        read_traffic(str(tmp_path / "x-*.csv"))
    parts(export, tmp_path, suffix=".csv")
    parts(export, tmp_path, suffix=".parquet")
    with pytest.raises(TrafficFileError, match="matches both Parquet and CSV files"):
        read_traffic(str(tmp_path / "part-*"))


def test_an_object_store_path_is_read_by_duckdb_or_named_in_one_line(monkeypatch):
    """httpfs downloads on first use: where it cannot (this machine), or the bucket cannot be
    reached (an endpoint on a closed loopback port), the error names the source."""
    monkeypatch.setenv("DUCKDB_S3_ENDPOINT", "127.0.0.1:9")
    monkeypatch.setenv("DUCKDB_S3_USE_SSL", "false")
    source = "s3://traffic-exports/2026-11/*.parquet"
    with pytest.raises(TrafficFileError, match=r"^s3://traffic-exports/2026-11/\*\.parquet: ") \
            as error:
        read_sample(source, 10)
    assert "\n" not in str(error.value)
