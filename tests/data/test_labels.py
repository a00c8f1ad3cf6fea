import json

import pandas as pd
import pytest

from pipeline.data.labels import LabelFileError, read_label_file, validate_labels

OK = {"request_id": "r1", "model": "m1", "dimension": "style", "annotator": "a",
      "score": "4", "labeled_at": "2026-11-01T10:00:00Z"}


def check(*rows):
    raw = pd.DataFrame(list(rows), dtype="string")
    return validate_labels(raw, "labels.csv", {"r1", "r2"}, {"m1", "m2"})


def test_valid_rows_are_typed():
    result = check(OK, {**OK, "dimension": "refusal", "score": "1"})
    assert result.quarantine.empty
    assert result.labels["score"].tolist() == [4.0, 1.0]
    assert str(result.labels["labeled_at"].dtype).startswith("datetime64")


@pytest.mark.parametrize("change, field, words", [
    ({"score": "6"}, "score", "outside the style scale (1 to 5)"),
    ({"score": "n/a"}, "score", "not a number"),
    ({"dimension": "refusal", "score": "0.5"}, "score", "refusal scale (0 or 1)"),
    ({"model": "m9"}, "model", "unknown model 'm9'"),
    ({"request_id": "r9"}, "request_id", "unknown request_id 'r9'"),
    ({"dimension": "tone"}, "dimension", "unknown dimension 'tone'"),
    ({"annotator": " "}, "annotator", "empty"),
    ({"labeled_at": "last tuesday"}, "labeled_at", "not an ISO-8601 timestamp"),
])
def test_bad_rows_are_quarantined_with_file_row_field_and_reason(change, field, words):
    result = check(OK, {**OK, **change})
    assert len(result.labels) == 1
    (bad,) = result.quarantine.to_dict("records")
    assert bad["row_number"] == 2 and bad["field"] == field
    assert bad["reason"].startswith(f"labels.csv, row 2, field {field}: ")
    assert words in bad["reason"]
    assert '"annotator"' in bad["raw"]  # the whole row is kept


def test_relabelled_row_keeps_the_latest():
    result = check(OK, {**OK, "score": "2", "labeled_at": "2026-11-02T10:00:00Z"})
    assert result.labels["score"].tolist() == [2.0]


def test_file_level_errors_name_the_file(tmp_path):
    with pytest.raises(LabelFileError, match="not found"):
        read_label_file(tmp_path / "missing.csv")
    path = tmp_path / "labels.csv"
    path.write_text("request_id,model,score\nr1,m1,3\n")
    with pytest.raises(LabelFileError,
                       match=r"labels.csv: missing required column\(s\) \['dimension'"):
        read_label_file(path)


# --- labels tied to the text they judged ----------------------------------------------------

ANSWERS = {("r1", "m1"): "a" * 64, ("r2", "m1"): "b" * 64}


def check_against(answers, *rows, bound=None):
    raw = pd.DataFrame(list(rows), dtype="string")
    return validate_labels(raw, "labels.csv", {"r1", "r2"}, {"m1", "m2"}, answers, bound)


def test_a_label_is_tied_to_the_answer_of_record():
    result = check_against(ANSWERS, OK)
    assert result.labels["response_hash"].tolist() == ["a" * 64]


def test_a_label_keeps_the_text_it_was_first_tied_to():
    when = pd.Timestamp("2026-11-01T10:00:00Z")
    bound = {("r1", "m1", "style", "a", when): "0" * 64}  # read before the replay changed
    result = check_against(ANSWERS, OK, bound=bound)
    assert result.labels["response_hash"].tolist() == ["0" * 64]
    relabelled = check_against(ANSWERS, {**OK, "labeled_at": "2026-11-03T10:00:00Z"}, bound=bound)
    assert relabelled.labels["response_hash"].tolist() == ["a" * 64]  # a new judgment


def test_a_label_of_a_text_since_changed_is_quarantined():
    result = check_against(ANSWERS, {**OK, "response_hash": "a" * 64},
                           {**OK, "request_id": "r2", "response_hash": "c" * 64})
    assert len(result.labels) == 1
    (bad,) = result.quarantine.to_dict("records")
    assert bad["field"] == "response_hash" and bad["row_number"] == 2
    assert "no longer the answer of record" in bad["reason"]


def test_a_label_of_no_answer_is_quarantined():
    result = check_against(ANSWERS, {**OK, "model": "m2"})
    (bad,) = result.quarantine.to_dict("records")
    assert bad["field"] == "model" and "has no answer to 'r1'" in bad["reason"]


# --- what quarantine keeps, and files that cannot be read ------------------------------------

def test_quarantine_keeps_the_label_columns_only_and_names_the_others():
    raw = pd.DataFrame([OK, {**OK, "score": "n/a"}], dtype="string").assign(
        comment="call me on +44 20 7946 0958", annotator_email="ann@example.com")
    result = validate_labels(raw, "labels.csv", {"r1"}, {"m1"})
    (bad,) = result.quarantine.to_dict("records")
    assert json.loads(bad["raw"]) == {k: v for k, v in {**OK, "score": "n/a"}.items()}
    assert bad["reason"].endswith("(columns not kept: comment, annotator_email)")
    assert "+44" not in bad["raw"] + bad["reason"] and "example.com" not in bad["raw"]


def test_what_quarantine_keeps_passes_the_redactor():
    card = "4111 1111 1111 1111"
    raw = pd.DataFrame([{**OK, "annotator": "jane@example.com", "score": f"card {card}"}],
                       dtype="string")
    result = validate_labels(raw, "labels.csv", {"r1"}, {"m1"},
                             redact=lambda text: text.replace(card, "[CARD]")
                             .replace("jane@example.com", "[EMAIL]"))
    (bad,) = result.quarantine.to_dict("records")
    assert json.loads(bad["raw"])["annotator"] == "[EMAIL]"
    assert "not a number: 'card [CARD]'" in bad["reason"] and card not in bad["raw"]


def test_a_file_that_cannot_be_parsed_names_the_file_and_the_line(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(",".join(OK) + "\n" + ",".join(OK.values()) + "\nr1,m1,style,a,4,x,extra\n")
    with pytest.raises(LabelFileError, match=r"labels.csv: cannot be read as CSV: .*line 3"):
        read_label_file(path)
    latin = tmp_path / "latin.csv"
    latin.write_bytes((",".join(OK) + "\nr1,m1,style,Jos\xe9,4,2026-11-01\n").encode("latin-1"))
    with pytest.raises(LabelFileError, match=r"latin.csv, byte \d+: not UTF-8 text"):
        read_label_file(latin)


def test_empty_optional_fields_are_absent_and_names_are_kept_as_written(tmp_path):
    """A Parquet label file with a null response_hash on some rows (pd.NA, which has no truth
    value) reads as 'not named', like an empty CSV cell; a null annotator is 'empty'; names
    with '/', '|', quotes or surrounding space are stored exactly as the file spells them."""
    rows = pd.DataFrame([
        {**OK, "model": "org/m|1", "annotator": " O'Brien \"q\"/ALL ", "response_hash": None},
        {**OK, "request_id": "r2", "model": "org/m|1", "response_hash": "b" * 64},
        {**OK, "annotator": None, "response_hash": None},
    ])
    path = tmp_path / "labels.parquet"
    rows.to_parquet(path)
    raw = read_label_file(path)
    answers = {("r1", "org/m|1"): "a" * 64, ("r2", "org/m|1"): "b" * 64, ("r1", "m1"): "c" * 64}
    result = validate_labels(raw, "labels.parquet", {"r1", "r2"}, {"m1", "org/m|1"}, answers)
    assert result.labels["response_hash"].tolist() == ["a" * 64, "b" * 64]
    assert result.labels["annotator"].tolist() == [" O'Brien \"q\"/ALL ", "a"]
    assert set(result.labels["model"]) == {"org/m|1"}
    (bad,) = result.quarantine.to_dict("records")
    assert bad["field"] == "annotator" and "empty" in bad["reason"]
