"""Answers as the warehouse keeps them: the identity of a text, and production's logged
answers carried by the traffic file.

Every answer has an identity that changes when its text changes (``response_hash``), so a
label or a score is tied to the text it judged: after a replay is refreshed, no old label
calibrates the new text.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

LOGGED = "logged"  # responses.source of production's own answers
# The traffic file's optional columns that carry production's answer, beside `response`.
LOGGED_COLUMNS = ("model", "latency_ms", "tokens_in", "tokens_out", "cost_usd")


def response_hash(text: str | None) -> str | None:
    """sha256 of the text's UTF-8 bytes, hex (as DuckDB's ``sha256``); None for no text."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None
    return hashlib.sha256(str(text).encode()).hexdigest()


def logged_answers(traffic: pd.DataFrame, logged_at: pd.Timestamp) -> pd.DataFrame:
    """Production's answers as ``responses`` rows (``source = 'logged'``), one per traffic row
    with a ``response``; ``traffic`` as :func:`pipeline.data.traffic.read_traffic` returns it.
    ``request_hash`` is the answer's own hash: no request was sent for it."""
    rows = traffic[traffic["response"].notna()]
    hashes = [response_hash(text) for text in rows["response"]]
    return pd.DataFrame({
        "request_id": rows["request_id"].to_numpy(),
        "model": rows["model"].to_numpy(),
        "source": LOGGED,
        "response": rows["response"].to_numpy(),
        "response_hash": hashes,
        "status": "ok",
        "error": None,
        "attempts": 0,
        "latency_ms": rows["latency_ms"].astype("Float64").to_numpy(),
        "tokens_in": rows["tokens_in"].astype("Int64").to_numpy(),
        "tokens_out": rows["tokens_out"].astype("Int64").to_numpy(),
        "cost_usd": rows["cost_usd"].astype("Float64").to_numpy(),
        "request_hash": hashes,
        "replayed_at": logged_at,
    })
