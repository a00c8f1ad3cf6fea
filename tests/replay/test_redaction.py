"""The redactor (pipeline.replay.redaction) on each category, on ordinary text, and on the two
paths where text leaves: the traffic_sample asset and `llm-migrate replay`."""

import json
import math
import re
import threading

import duckdb
import pytest

from pipeline.demo import server as offline_server
from pipeline.replay.redaction import KINDS, Redactor, find, phone_regions_for, redact

# Keys are put together at run time, so that no secret scanner takes this file for a leak.
SECRETS = [
    "sk-" + "proj-" + "Xa81kQ2mZ0vT7yLp4WcN9bR3sD6fH1jK5uE8gA2oI0qV",
    "sk-" + "ant-api03-" + "Zk3vQ9mX2pL7tR0wY5nB8cF1dH4jG6sA3eU9iO2kM7xV1zT5q-AA",
    "sk-" + "Tq3ZbV8wX1mK9pL2cN7rY4sD0fG6hJ5kA1eU3iO8tR2wQ9zX",
    "gh" + "p_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "github" + "_pat_" + "11ABCDEFG0abcdefghijkl_"
    + "mnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg",
    "AKIA" + "Z7QX4M2K9V5T1B8N",
    "xox" + "b-1234567890123-1234567890123-aBcDeFgHiJkLmNoPqRsTuVwX",
    "AIza" + "SyD4-x9Qm2Lk7Vt0Rp3Wn8Zb5Yc1Hf6Jg2Ke",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0"
    + ".Qm9v7Zk2Lp4Xw1Tr8Yc5Nb0Vd3Hf6Jg",
    "q7Rz2Lx9Vb4Nw1Tk8Pm3Hd6Yc0Fs5Ja",  # a random token with no prefix (the entropy rule)
]

CAUGHT = {
    "email": ["jane.doe+x@example.co.uk", "jürgen.müller@bücher.de", "JOSÉ@CORREO.ES",
              "jane (at) example (dot) com", "jane.doe [at] example.com",
              "maria arroba empresa punto com punto br", "john dot smith at gmail dot com"],
    "phone": ["+49 30 12345678", "030 12345678", "(201) 555-0123", "+1 201-555-0123",
              "06 12 34 56 78", "+33 6 12 34 56 78", "612 34 56 78", "(11) 96123-4567",
              "+55 11 96123-4567", "333 123 4567", "+39 02 1234 5678", "0049 151 23456789"],
    "card": ["4111 1111 1111 1111", "4111.1111.1111.1111", "4111  1111  1111  1111",
             "5500-0000-0000-0004", "3782 822463 10005", "4111111111111111"],
    "iban": ["DE89 3704 0044 0532 0130 00", "FR14 2004 1010 0505 0001 3M02 606",
             "GB82WEST12345698765432", "it60 x054 2811 1010 0000 0123 456",
             "ES91-2100-0418-4502-0005-1332"],
    "national_id": ["123-45-6789", "36 574 261 809", "2 95 10 99 126 111 93", "54362315K",
                    "X2482300W", "390.533.447-05", "RCCMNL83S18D969H"],
    "secret": SECRETS,
}


@pytest.mark.parametrize("kind, value", [(k, v) for k, values in CAUGHT.items() for v in values])
def test_each_category_is_caught_in_the_formats_people_type(kind, value):
    text = f"Hi, here it is: {value}, see you on 24.11.2026."
    placeholder = f"[{kind.upper()}_1]"
    assert redact(text) == f"Hi, here it is: {placeholder}, see you on 24.11.2026."


@pytest.mark.parametrize("text", [
    "order 12345 shipped, ticket 7-000123 is open",
    "my order 4155550132 was placed on 2026-11-24 at 14:30",  # a bare run after "order"
    "Bestellung 303-1234567-1234567 vom 24.11.2026, 1.299,00 € inkl. MwSt.",
    "version 2.13.0 released 2026-11-24; Chrome 135.0.3984.113 on 192.168.1.10",
    "not a card 4111 1111 1111 1112 (fails Luhn), EAN 4006381333931",
    "Suivi 1Z999AA10123456784, colis JJD000390007712345, CEP 01310-100, 75008 Paris",
    "commit 3f2a9c1e4b5d6f7a8b9c0d1e2f3a4b5c6d7e8f90, request 123e4567-e89b-12d3-a456-426614174000",
    "see /api/v2/Users/12345/Orders and src/components/UserProfile4View.tsx",
    "Do you ship to 94105-1234? It costs $1,249.99 for 3 x 250 g.",
    "Can we meet at example.com or look at this dot com? The token is expired.",
])
def test_ordinary_text_is_left_intact(text):
    assert redact(text) == text


def test_placeholders_are_stable_per_value():
    text = ("Mail jane@example.com or JANE@example.com, not bob@example.com; call +49 30 12345678 "
            "(030 12345678 from Germany) or +33 6 12 34 56 78.")
    assert redact(text) == ("Mail [EMAIL_1] or [EMAIL_1], not [EMAIL_2]; call [PHONE_1] "
                            "([PHONE_1] from Germany) or [PHONE_2].")
    # One redactor for a request: system and prompt share the numbering.
    redactor = Redactor()
    assert redactor("Agent for jane@example.com.") == "Agent for [EMAIL_1]."
    assert redactor("I am bob@example.com, cc jane@example.com") == "I am [EMAIL_2], cc [EMAIL_1]"
    assert redactor.counts == {"email": 3}
    # Already redacted text keeps its placeholders, and a new value takes a free number.
    assert redact("[EMAIL_1] wrote from bob@example.com") == "[EMAIL_1] wrote from [EMAIL_2]"


def test_kinds_extra_patterns_none_and_nan():
    text = "jane@example.com, customer C-99812, card 4111 1111 1111 1111"
    assert redact(text, kinds=["card"]) == "jane@example.com, customer C-99812, card [CARD_1]"
    assert redact(text, extra={"customer": r"C-\d{5}"}) == (
        "[EMAIL_1], customer [CUSTOMER_1], card [CARD_1]")
    with pytest.raises(ValueError, match="unknown kind"):
        redact(text, kinds=["ssn"])
    assert redact(None) is None
    assert math.isnan(redact(float("nan")))
    assert set(KINDS) == set(CAUGHT)
    assert [f.kind for f in find(text)] == ["email", "card"]
    assert phone_regions_for("gb")[-1] == "GB" and phone_regions_for("eu-west") == \
        phone_regions_for("us")


PLANTED = {"system": "You serve jane.doe@example.com (IBAN DE89 3704 0044 0532 0130 00).",
           "prompt": "Call me on +49 30 12345678, card 4111 1111 1111 1111, key " + SECRETS[0],
           "reference": "Refund to DE89370400440532013000, SSN 123-45-6789.",
           "response": "Noted, jane.doe@example.com."}
VALUES = ["jane.doe@example.com", "DE89 3704", "DE8937", "12345678", "4111", SECRETS[0][:12],
          "123-45-6789"]


def test_traffic_sample_redacts_system_prompt_reference_and_logged_answer(tmp_path, demo_models):
    from dagster import materialize

    from assets import traffic_sample
    from pipeline.demo import world
    from resources import DataSources, Warehouse

    traffic = world.generate_traffic(6, seed=11)
    for column, text in PLANTED.items():
        traffic.loc[0, column] = text
    path = tmp_path / "traffic.parquet"
    traffic.to_parquet(path)
    database = str(tmp_path / "w.duckdb")
    result = materialize([traffic_sample], resources={
        "sources": DataSources(traffic=str(path)), "warehouse": Warehouse(database=database),
        "models": demo_models})
    meta = result.asset_materializations_for_node("traffic_sample")[0].metadata
    assert meta["prompts_redacted"].value == 1
    assert meta["redactions"].value == {"email": 2, "phone": 1, "card": 1, "iban": 2,
                                        "national_id": 1, "secret": 1}
    request_id = traffic.loc[0, "request_id"]
    with duckdb.connect(database, read_only=True) as conn:
        system, prompt, reference = conn.execute(
            "SELECT system, prompt, reference FROM traffic WHERE request_id = ?",
            [request_id]).fetchone()
        logged = conn.execute("SELECT response FROM responses WHERE request_id = ? "
                              "AND source = 'logged'", [request_id]).fetchone()[0]
        everything = text_columns_of(conn, "traffic")
    assert system == "You serve [EMAIL_1] (IBAN [IBAN_1])."
    assert prompt == "Call me on [PHONE_1], card [CARD_1], key [SECRET_1]"
    assert reference == "Refund to [IBAN_1], SSN [NATIONAL_ID_1]."  # the same IBAN, one name
    assert logged == "Noted, [EMAIL_1]."
    assert not any(value in everything + logged for value in VALUES)


def text_columns_of(conn, table):
    """Every text cell of `table` as one JSON string. Numbers are left out: a latency or a
    sampling weight is a float whose digits may happen to spell "4111"."""
    columns = [name for name, kind in conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?",
        [table]).fetchall() if kind == "VARCHAR"]
    rows = conn.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
    return json.dumps(rows, ensure_ascii=False)


def test_llm_migrate_replay_redacts_before_sending_and_storing(tmp_path, monkeypatch, capsys):
    import pandas as pd

    from pipeline.cli import main

    received, lock = [], threading.Lock()

    def echo(model, system, prompt):  # the provider repeats what it received
        with lock:
            received.append((system, prompt))
        return f"You said: {system} / {prompt}"

    prompts = tmp_path / "prompts.csv"
    pd.DataFrame({"request_id": ["r1", "r2"], "system": [PLANTED["system"], None],
                  "prompt": [PLANTED["prompt"], PLANTED["reference"]]}).to_csv(prompts,
                                                                                  index=False)
    database = tmp_path / "out.duckdb"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-cli-secret-42")
    with offline_server.serve(answer=echo, api_key="sk-cli-secret-42") as server:
        status = main(["replay", str(prompts), "--provider", "openai", "--model", "candidate-a",
                       "--db", str(database), "--base-url", server.base_url])
        out = capsys.readouterr()
        sent = json.dumps(received, ensure_ascii=False)
        # --no-redact sends the file as it is (a test set with no personal data).
        assert main(["replay", str(prompts), "--provider", "openai", "--model", "candidate-a",
                     "--db", str(tmp_path / "raw.duckdb"), "--base-url", server.base_url,
                     "--no-redact"]) == 0
    assert PLANTED["system"] in json.dumps(received[2:], ensure_ascii=False)
    received[:] = received[:2]
    assert status == 0, out.err
    with duckdb.connect(str(database), read_only=True) as conn:
        stored = text_columns_of(conn, "responses")
    assert len(received) == 2 and "[EMAIL_1]" in sent and "[SECRET_1]" in sent
    assert "You said: You serve [EMAIL_1] (IBAN [IBAN_1])." in stored
    for value in VALUES:
        assert value not in sent and value not in stored and value not in out.out + out.err
    assert not re.search(r"\d{4} \d{4} \d{4} \d{4}", sent + stored)
