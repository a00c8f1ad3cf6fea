"""Replaying into the ``responses`` table: the response cache and the run summary.

A request whose content hash already has a successful row is a cache hit and is not sent
again (so nothing is billed twice); failed rows are always retried. Rows are upserted, so a
request never has two replayed rows per model (online or batch: the latest), and
``attempts`` accumulates across runs. Production's logged answers (``source = 'logged'``)
are rows of their own, never replaced by a replay.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.data.answers import LOGGED, response_hash
from pipeline.data.warehouse import insert_frame, transaction
from pipeline.replay.online import (
    Limits,
    ModelSpec,
    ProviderRejected,
    RetryPolicy,
    replay,
    request_hash,
)


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
    conn,
    requests: pd.DataFrame,
    spec: ModelSpec,
    api_key: str,
    base_url: str | None = None,
    limits: Limits = Limits(),
    policy: RetryPolicy = RetryPolicy(),
    refresh: bool = False,
) -> dict:
    """Replay what the cache does not hold, upsert the outcomes, and summarise the run.

    When the provider refuses the key, access or model, the outcomes are stored all the same
    (the requests never sent among them, to be retried) before :class:`ProviderRejected`
    propagates, with the run's summary attached."""
    todo, cache_hits = split_cached(conn, requests, spec, refresh)
    try:
        records = replay(todo[["request_id", "system", "prompt"]], spec, api_key, base_url,
                         limits, policy)
    except ProviderRejected as rejected:
        rejected.summary = summarise(rejected.records, cache_hits,
                                     _store(conn, todo, rejected.records))
        raise
    return summarise(records, cache_hits, _store(conn, todo, records))


def _store(conn, todo: pd.DataFrame, records: pd.DataFrame) -> int:
    """Upsert the records, attempts counted across runs; returns this run's retries."""
    if not len(records):
        return 0
    retries = int((records["attempts"] - 1).clip(lower=0).sum())
    prior = todo["previous_attempts"].fillna(0).astype(int).to_numpy()
    records["attempts"] = records["attempts"].to_numpy() + prior
    records["replayed_at"] = pd.Timestamp.now(tz="UTC")
    with transaction(conn):
        store_replayed(conn, records, "replay")
    return retries


def store_replayed(conn, records: pd.DataFrame, source: str) -> None:
    """Upsert replayed answers (``source`` 'replay' or 'batch') with their text's hash. The
    request's replayed row of the other source, if any, goes: the latest replay stands."""
    if not len(records):
        return
    records = records.assign(source=source,
                             response_hash=[response_hash(t) for t in records["response"]])
    conn.register("_replayed", records[["request_id", "model"]])
    try:
        conn.execute("DELETE FROM responses r USING _replayed n WHERE r.request_id = n.request_id "
                     "AND r.model = n.model AND r.source NOT IN (?, ?)", [LOGGED, source])
    finally:
        conn.unregister("_replayed")
    insert_frame(conn, "responses", records, or_replace=True)


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
