"""Replay through the real SDKs against the loopback provider."""

import pandas as pd
import pytest

from pipeline.demo import server as offline_server
from pipeline.replay.online import (
    Limits,
    ModelRetired,
    ModelSpec,
    ProviderRejected,
    RetryPolicy,
    replay,
    request_hash,
)

FAST = RetryPolicy(max_attempts=3, base_delay_s=0.01, timeout_s=5)


def test_every_request_yields_one_record(small_traffic):
    requests = small_traffic.head(40)
    spec = ModelSpec("cand", "anthropic", "candidate-a", price_in_per_mtok=3, price_out_per_mtok=15)
    with offline_server.serve() as server:
        out = replay(requests, spec, "offline", server.anthropic_base_url, Limits(concurrency=8))
        assert server.requests == 40
    assert out["request_id"].tolist() == requests["request_id"].tolist()
    assert (out["status"] == "ok").all() and (out["attempts"] == 1).all()
    expected_cost = (out["tokens_in"] * 3 + out["tokens_out"] * 15) / 1e6
    assert (out["cost_usd"] - expected_cost).abs().max() < 1e-12


def test_unreachable_provider_is_retried_then_recorded(small_traffic):
    with offline_server.serve() as server:
        dead_url = server.base_url  # the port is closed once the block exits
    out = replay(small_traffic.head(3), ModelSpec("m", "openai", "incumbent-v1"), "k", dead_url,
                 policy=FAST)
    assert (out["status"] == "error").all() and (out["attempts"] == 3).all()
    # The SDK's aiohttp transport reports a refused connection as a connect time-out; the
    # record names the root cause either way.
    assert out["error"].str.match(r"API(Connection|Timeout)Error").all()
    assert out["error"].str.contains("cause: ConnectionRefusedError").all()


def test_bad_request_is_not_retried():
    requests = pd.DataFrame({"request_id": ["r1"], "system": [None], "prompt": ["hi"]})
    with offline_server.serve() as server:
        out = replay(requests, ModelSpec("m", "openai", ""), "k", server.base_url, policy=FAST)
    assert out.loc[0, "status"] == "error" and out.loc[0, "attempts"] == 1
    assert out.loc[0, "error"].startswith("BadRequestError")


def test_request_hash_ignores_how_but_not_what():
    spec = ModelSpec("m", "openai", "gpt-x")
    same = request_hash(spec, "sys", "hello")
    assert same == request_hash(ModelSpec("renamed", "openai", "gpt-x"), "sys", "hello")
    assert same != request_hash(spec, "sys", "hello!")
    assert same != request_hash(ModelSpec("m", "openai", "gpt-x", temperature=0.7), "sys", "hello")


def _requests(n: int, prompt: str = "What is the refund policy?") -> pd.DataFrame:
    return pd.DataFrame({"request_id": [f"r{i}" for i in range(n)], "system": [None] * n,
                         "prompt": [f"{prompt} #{i:03d}" for i in range(n)]})


def test_concurrency_bounds_the_requests_in_flight():
    spec = ModelSpec("m", "openai", "incumbent-v1")
    with offline_server.serve(latency_s=0.05) as server:
        out = replay(_requests(48), spec, "k", server.base_url, Limits(concurrency=6))
        assert server.peak_in_flight == 6  # reached, never exceeded
    assert (out["status"] == "ok").all()


def test_retries_stay_within_the_concurrency_bound():
    spec = ModelSpec("m", "anthropic", "incumbent-v1")
    fault = offline_server.Fault("server_error", share=0.5)
    with offline_server.serve(latency_s=0.02, fault=fault) as server:
        out = replay(_requests(30), spec, "k", server.anthropic_base_url, Limits(concurrency=4),
                     FAST)
        assert server.peak_in_flight <= 4
    assert (out["status"] == "ok").all() and out["attempts"].max() > 1


def _gaps(arrivals: list[float]) -> list[float]:
    arrivals = sorted(arrivals)
    return [later - earlier for earlier, later in zip(arrivals, arrivals[1:])]


def test_requests_per_minute_are_paced_evenly():
    spec = ModelSpec("m", "openai", "incumbent-v1")
    with offline_server.serve() as server:
        replay(_requests(8), spec, "k", server.base_url, Limits(concurrency=8, rpm=600))
        gaps = _gaps(server.arrival_times)
    # 600 a minute is one every 0.1 s; unpaced, 8 workers would send all 8 at once (gaps of
    # a few ms). A gap is the pacing plus the difference of two requests' trips to the server,
    # which a loaded machine stretches by tens of ms: the bound tells paced from unpaced.
    assert len(gaps) == 7 and min(gaps) > 0.03 and sum(gaps) > 0.65


def test_tokens_per_minute_are_paced_by_the_estimate():
    spec = ModelSpec("m", "anthropic", "incumbent-v1", max_tokens=100)
    requests = _requests(6, prompt="x" * 35)  # 40 characters: 11 tokens + 100 for the answer
    with offline_server.serve() as server:
        replay(requests, spec, "k", server.anthropic_base_url,
               Limits(concurrency=6, tpm=111 * 600))  # 600 such requests a minute
        gaps = _gaps(server.arrival_times)
    assert len(gaps) == 5 and min(gaps) > 0.03 and sum(gaps) > 0.45  # as above


# --- a model retired at its provider ----------------------------------------------------------

@pytest.mark.parametrize("provider", ["openai", "anthropic", "openai_compatible"])
def test_a_retired_model_is_reported_as_retired_not_as_a_key_problem(provider):
    spec = ModelSpec("old", provider, "old-model")
    with offline_server.serve(retired={"old-model"}) as server:
        url = server.anthropic_base_url if provider == "anthropic" else server.base_url
        with pytest.raises(ModelRetired, match="`old` is retired at its provider; mark it "
                                               "`retired: true`") as error:
            replay(_requests(5), spec, "k", url, Limits(concurrency=1), FAST)
        assert server.requests == 0
    assert "check the API key" not in str(error.value)
    assert len(error.value.records) == 5  # the one sent and the four never sent, for the store


def test_a_wrong_path_is_not_taken_for_a_retirement():
    with offline_server.serve() as server:
        with pytest.raises(ProviderRejected) as error:
            replay(_requests(2), ModelSpec("m", "openai_compatible", "candidate-a"), "k",
                   server.base_url + "/wrong", Limits(concurrency=1), FAST)
    assert not isinstance(error.value, ModelRetired)
    assert "check the API key, the model id and the base URL" in str(error.value)


def test_an_empty_system_prompt_is_absent(tmp_path):
    """Traffic whose `system` is set on some rows only (an empty CSV cell is NaN; DuckDB gives
    a NULL back as NaN too) replays: every empty form is sent, paced and hashed as absent."""
    import duckdb

    from pipeline.data.warehouse import apply_schema
    from pipeline.replay.online import estimated_tokens
    from pipeline.replay.store import replay_into

    spec = ModelSpec("m", "openai", "incumbent-v1")
    for empty in (float("nan"), pd.NA, "", "  "):
        assert request_hash(spec, empty, "hi") == request_hash(spec, None, "hi")
        assert estimated_tokens(spec, empty, "hi") == estimated_tokens(spec, None, "hi")
    requests = pd.DataFrame({"request_id": ["r0", "r1", "r2", "r3"],
                             "system": ["Be brief.", float("nan"), "", None],
                             "prompt": ["a?", "b?", "c?", "d?"]})
    with offline_server.serve() as server, duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        apply_schema(conn)
        conn.execute("CREATE TABLE t AS SELECT * FROM requests")  # NULL back as NaN
        first = replay_into(conn, conn.execute("SELECT * FROM t").df(), spec, "k",
                            server.base_url, policy=FAST)
        again = replay_into(conn, requests, spec, "k", server.base_url, policy=FAST)
        assert server.requests == 4  # the second run: all cache hits, NaN and '' alike
    assert first["succeeded"] == 4 and again["cache_hits"] == 4
