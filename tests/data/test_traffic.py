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
    assert 95 <= len(sample) <= 100 and sample["request_id"].is_unique
    shares = small_traffic["region"].value_counts(normalize=True)
    got = sample["region"].value_counts(normalize=True)
    assert (abs(got - shares) < 0.05).all()
    assert sample_traffic(small_traffic, None).equals(small_traffic.reset_index(drop=True))
