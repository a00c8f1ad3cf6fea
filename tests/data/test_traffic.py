import pytest

from pipeline.data.traffic import TrafficFileError, read_traffic, sample_traffic


def write(tmp_path, frame, name="traffic.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False) if name.endswith(".csv") else frame.to_parquet(path)
    return path


def test_reads_the_demo_export_and_fills_optional_columns(tmp_path, small_traffic):
    back = read_traffic(write(tmp_path, small_traffic, "t.parquet"))
    assert len(back) == len(small_traffic)
    minimal = small_traffic[["request_id", "ts", "region", "prompt"]]
    read = read_traffic(write(tmp_path, minimal))
    assert not read["expects_refusal"].any() and read["reference"].isna().all()


@pytest.mark.parametrize("column, value, message", [
    ("prompt", "", "row 3, field prompt: empty"),
    ("ts", "not-a-date", "row 3, field ts: not a timestamp"),
    ("request_id", "DUP", "field request_id: duplicate 'DUP'"),
])
def test_bad_rows_name_file_row_and_field(tmp_path, small_traffic, column, value, message):
    frame = small_traffic.head(5).copy()
    frame[column] = frame[column].astype(object)
    frame.loc[2, column] = value
    if column == "request_id":
        frame.loc[1, column] = value
    with pytest.raises(TrafficFileError, match=message.replace("(", r"\(")) as error:
        read_traffic(write(tmp_path, frame))
    assert "traffic.csv" in str(error.value)


def test_missing_columns(tmp_path, small_traffic):
    with pytest.raises(TrafficFileError, match=r"missing required column\(s\) \['region'\]"):
        read_traffic(write(tmp_path, small_traffic.drop(columns="region")))


def test_sample_keeps_region_shares(small_traffic):
    sample = sample_traffic(small_traffic, 100, seed=1)
    assert len(sample) == 100 and sample["request_id"].is_unique  # exactly the size asked
    shares = small_traffic["region"].value_counts(normalize=True)
    got = sample["region"].value_counts(normalize=True)
    assert (abs(got - shares) < 0.05).all()
    assert sample_traffic(small_traffic, None).equals(small_traffic.reset_index(drop=True))


def test_production_answers_are_read_with_their_model(tmp_path, small_traffic):
    frame = small_traffic.head(4).copy()
    frame["latency_ms"] = [120.0, None, 80.5, 99.0]
    frame.loc[1, "response"] = None  # production logged no answer for this one
    read = read_traffic(write(tmp_path, frame, "t.parquet"))
    assert read["response"].notna().tolist() == [True, False, True, True]
    assert set(read["model"]) == {"incumbent-v1"}
    assert read["latency_ms"].iloc[2] == 80.5 and read["tokens_in"].isna().all()


@pytest.mark.parametrize("column, value, message", [
    ("model", "", "row 2, field model: empty, but the row has a logged `response`"),
    ("latency_ms", "fast", "row 2, field latency_ms: not a number >= 0: 'fast'"),
    ("cost_usd", "-1", "row 2, field cost_usd: not a number >= 0"),
])
def test_bad_logged_answers_name_file_row_and_field(tmp_path, small_traffic, column, value,
                                                    message):
    frame = small_traffic.head(3).copy()
    frame[column] = None
    frame[column] = frame[column].astype(object)
    frame.loc[1, column] = value
    if column == "model":
        frame.loc[[0, 2], column] = "incumbent-v1"
    with pytest.raises(TrafficFileError, match=message.replace("(", r"\(")) as error:
        read_traffic(write(tmp_path, frame))
    assert "traffic.csv" in str(error.value)


@pytest.mark.parametrize("name", ["traffic.csv", "traffic.parquet"])
def test_empty_optional_fields_are_absent(tmp_path, small_traffic, name):
    """A `system` prompt (or a reference, a language) on some rows only: an empty cell, an
    empty string or white space on the others reads as absent (None), never as NaN or ''."""
    frame = small_traffic.head(6).copy()
    frame.loc[1, "system"] = ""
    frame.loc[2, "system"] = "   "
    frame.loc[3, "system"] = None
    frame.loc[4, ["reference", "language"]] = ""
    read = read_traffic(write(tmp_path, frame, name))
    assert read["system"].tolist()[1:4] == [None, None, None]
    assert read["system"].iloc[0] == frame["system"].iloc[0]
    assert read["reference"].iloc[4] is None and read["language"].iloc[4] is None


def test_booleans_and_time_zones_as_a_csv_export_writes_them(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("request_id,ts,region,prompt,expects_refusal\n"
                    "a,2026-11-30T09:15:00Z,us,hi,true\n"
                    "b,2026-11-30 10:15:00+01:00,de,hallo,FALSE\n"
                    "c,2026-11-30T09:15:00,fr,salut,1\n"
                    "d,2026-11-30,it,ciao,\n")
    read = read_traffic(path)
    assert read["expects_refusal"].tolist() == [True, False, True, False]
    # a time without a zone is UTC; one with a zone is converted to UTC
    assert read["ts"].dt.strftime("%Y-%m-%d %H:%M").tolist() == [
        "2026-11-30 09:15", "2026-11-30 09:15", "2026-11-30 09:15", "2026-11-30 00:00"]


def test_a_word_that_is_no_boolean_is_named(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("request_id,ts,region,prompt,expects_refusal\n"
                    "a,2026-11-30T09:15:00Z,us,hi,true\nb,2026-11-30T09:15:00Z,us,hi,yes\n")
    with pytest.raises(TrafficFileError, match=r"row 2, field expects_refusal: not a boolean "
                                               r"\(true/false or 1/0\): 'yes'"):
        read_traffic(path)
