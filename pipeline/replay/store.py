"""Replaying into the ``responses`` table: the response cache and the run summary.

A request whose content hash already has a successful row is a cache hit and is not sent
again (so nothing is billed twice); failed rows are always retried. Rows are upserted, so a
request never has two replayed rows per model (online or batch: the latest), and
``attempts`` accumulates across runs. Production's logged answers (``source = 'logged'``)
are rows of their own, never replaced by a replay.

Answers are written as they come, each batch in a short transaction of its own connection
(a :data:`~pipeline.data.warehouse.Connector`), and no connection is open while a provider is
waited on: other runs and steps write between the batches, and a replay killed at any moment
loses only the requests in flight (at most ``concurrency``), which the next run sends again.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from pipeline.data.answers import LOGGED, response_hash
from pipeline.data.warehouse import (
    Connector,
    connector,
    defer_checkpoint,
    insert_frame,
    registered,
    transaction,
)
from pipeline.replay.online import (
    Limits,
    ModelSpec,
    ProviderRejected,
    RetryPolicy,
    replay,
    request_hash,
)

RESPONSE_COLUMNS = ["request_id", "model", "response", "status", "error", "attempts",
                    "latency_ms", "tokens_in", "tokens_out", "cost_usd", "request_hash",
                    "confidence"]
# Typed, so a batch whose rows all lack a value (all failed, say) still has the column's type.
_NULLABLE_TYPES = {"latency_ms": "Float64", "tokens_in": "Int64", "tokens_out": "Int64",
                   "cost_usd": "Float64", "confidence": "Float64"}


def response_frame(records: list[dict]) -> pd.DataFrame:
    """Replay records in the ``responses`` layout, stamped now."""
    frame = pd.DataFrame.from_records(records, columns=RESPONSE_COLUMNS).astype(_NULLABLE_TYPES)
    frame["replayed_at"] = pd.Timestamp.now(tz="UTC")
    return frame


def split_cached(conn, requests: pd.DataFrame, spec: ModelSpec, refresh: bool = False):
    """(requests to send, with their previous attempts; number of cache hits)."""
    previous = conn.execute(
        "SELECT request_id, request_hash AS stored_hash, status, attempts AS previous_attempts "
        "FROM responses WHERE model = ? AND source <> ?", [spec.name, LOGGED],
    ).df()
    merged = requests.merge(previous, on="request_id", how="left")
    hashes = [request_hash(spec, s, p) for s, p in zip(merged["system"], merged["prompt"])]
    cached = (merged["stored_hash"] == hashes) & (merged["status"] == "ok")
    if refresh:
        cached[:] = False
    return merged[~cached].reset_index(drop=True), int(cached.sum())


def replay_into(
    connect: Connector,
    requests: pd.DataFrame,
    spec: ModelSpec,
    api_key: str,
    base_url: str | None = None,
    limits: Limits = Limits(),
    policy: RetryPolicy = RetryPolicy(),
    refresh: bool = False,
) -> dict:
    """Replay what the cache does not hold, upsert the outcomes as they come, and summarise
    the run. ``connect`` opens a warehouse connection (a connection is also taken, and kept
    open); it is called once to read the cache and once per batch of answers.

    When the provider refuses the key, access or model, the outcomes are stored all the same
    (the requests never sent among them, to be retried) before :class:`ProviderRejected`
    propagates, with the run's summary attached."""
    connect = connector(connect)
    with connect() as conn:
        todo, cache_hits = split_cached(conn, requests, spec, refresh)
    earlier = dict(zip(todo["request_id"], todo["previous_attempts"].fillna(0).astype(int)))
    had_rows = set(todo.loc[todo["previous_attempts"].notna(), "request_id"])

    def persist(records: list[dict]) -> None:
        rows = response_frame(records)
        # Looked up row by row: Series.map and isin turn the whole dict or set into an index
        # at every call, a cost of the whole replay paid per batch (most of a 100k replay).
        rows["attempts"] += [earlier.get(r, 0) for r in rows["request_id"]]
        new = np.array([r not in had_rows for r in rows["request_id"]], dtype=bool)
        with connect() as conn:
            defer_checkpoint(conn)  # a batch of answers at a time: see its docstring
            try:
                with transaction(conn):
                    store_replayed(conn, rows[new], "replay", new=True)
                    store_replayed(conn, rows[~new], "replay")
            except duckdb.ConstraintException:  # another run stored one of them meanwhile
                with transaction(conn):
                    store_replayed(conn, rows, "replay")

    try:
        records = replay(todo[["request_id", "system", "prompt"]], spec, api_key, base_url,
                         limits, policy, persist=persist)
    except ProviderRejected as rejected:
        rejected.summary = summarise(rejected.records, cache_hits, _retries(rejected.records))
        raise
    return summarise(records, cache_hits, _retries(records))


def _retries(records: pd.DataFrame) -> int:
    """Attempts beyond the first, in this run."""
    return int((records["attempts"] - 1).clip(lower=0).sum()) if len(records) else 0


def store_replayed(conn, records: pd.DataFrame, source: str, new: bool = False) -> None:
    """Upsert replayed answers (``source`` 'replay' or 'batch') with their text's hash. The
    request's replayed row of the other source, if any, goes: the latest replay stands.
    ``new``: the caller has read that none of these requests has a replayed row, so they are
    inserted without looking for one (half the work); a row stored meanwhile by another run
    then raises ``duckdb.ConstraintException`` instead of being doubled."""
    if not len(records):
        return
    records = records.assign(source=source,
                             response_hash=[response_hash(t) for t in records["response"]])
    if not new:
        with registered(conn, "_replayed", records[["request_id", "model"]]):
            conn.execute("DELETE FROM responses r USING _replayed n "
                         "WHERE r.request_id = n.request_id AND r.model = n.model "
                         "AND r.source NOT IN (?, ?)", [LOGGED, source])
    insert_frame(conn, "responses", records, or_replace=not new)


def summarise(records: pd.DataFrame, cache_hits: int, retries: int) -> dict:
    """The run's JSON summary (the ``llm-migrate replay`` contract)."""
    ok = records[records["status"] == "ok"] if len(records) else records
    latency = ok["latency_ms"].astype(float).to_numpy() if len(ok) else np.array([])
    return {
        "requests": int(len(records)) + cache_hits,
        "succeeded": int(len(ok)),
        "failed": int(len(records) - len(ok)),
        "retries": retries,
        "cache_hits": cache_hits,
        "cost_usd": round(float(ok["cost_usd"].sum()) if len(ok) else 0.0, 6),
        "latency_p50_ms": round(float(np.percentile(latency, 50)), 2) if latency.size else None,
        "latency_p95_ms": round(float(np.percentile(latency, 95)), 2) if latency.size else None,
    }
