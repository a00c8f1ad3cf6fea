import pytest

from pipeline.replay.redaction import redact


@pytest.mark.parametrize("text, expected", [
    ("mail me at jane.doe+x@example.co.uk now", "mail me at [EMAIL] now"),
    ("call +49 30 1234 5678 today", "call [PHONE] today"),
    ("or (415) 555-0132.", "or [PHONE]."),
    ("card 4111 1111 1111 1111 expires", "card [CARD] expires"),
    ("card 4111-1111-1111-1111", "card [CARD]"),
])
def test_personal_data_is_replaced(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    "order 12345 shipped",
    "ticket 7-000123 is open",
    "not a card 4111 1111 1111 1112",  # fails the Luhn check
    "version 2.13.0 released 2026-11-24",
])
def test_ordinary_numbers_survive(text):
    assert redact(text) == text


def test_kinds_and_extra_patterns_are_configurable():
    text = "jane@example.com, customer C-99812"
    assert redact(text, kinds=["phone"]) == text
    assert redact(text, extra={"customer": r"C-\d{5}"}) == "[EMAIL], customer [CUSTOMER]"
    with pytest.raises(ValueError, match="unknown kind"):
        redact(text, kinds=["ssn"])
    assert redact(None) is None
    assert redact(float("nan")) != redact(float("nan"))  # NaN passes through untouched


def test_traffic_sample_stores_only_redacted_prompts(tmp_path, small_traffic, demo_models):
    import duckdb
    from dagster import materialize

    from assets import traffic_sample
    from pipeline.data.answers import response_hash
    from resources import DataSources, Warehouse

    traffic = small_traffic.head(10).copy()
    traffic.loc[0, "prompt"] = "my card is 4111 1111 1111 1111, mail jane@example.com"
    traffic.loc[0, "response"] = "Noted, jane@example.com."  # production's logged answer
    path = tmp_path / "traffic.parquet"
    traffic.to_parquet(path)
    database = str(tmp_path / "w.duckdb")
    result = materialize([traffic_sample], resources={
        "sources": DataSources(traffic=str(path)), "warehouse": Warehouse(database=database),
        "models": demo_models})
    meta = result.asset_materializations_for_node("traffic_sample")[0].metadata
    assert meta["prompts_redacted"].value == 1
    with duckdb.connect(database) as conn:
        stored = conn.execute("SELECT prompt FROM traffic WHERE request_id = ?",
                              [traffic.loc[0, "request_id"]]).fetchone()[0]
        logged = conn.execute("SELECT response, response_hash FROM responses "
                              "WHERE request_id = ? AND source = 'logged'",
                              [traffic.loc[0, "request_id"]]).fetchone()
    assert stored == "my card is [CARD], mail [EMAIL]"
    assert logged[0] == "Noted, [EMAIL]." and logged[1] == response_hash("Noted, [EMAIL].")
