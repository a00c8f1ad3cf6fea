"""Replay under injected faults, over real HTTP with the official SDKs: nothing is lost or
duplicated, retries are counted, a rerun is idempotent, and keys never leak."""

import duckdb
import pytest
from dagster import DagsterInstance, EnvVar, materialize

from assets import replay_responses, traffic_sample
from pipeline.data.warehouse import apply_schema
from pipeline.demo import server as offline_server
from pipeline.demo.server import Fault
from pipeline.replay.online import Limits, ModelSpec, ProviderRejected, RetryPolicy, replay
from pipeline.replay.store import replay_into
from resources import DataSources, ModelConfig, ModelRegistry, Warehouse

FAST = RetryPolicy(max_attempts=4, base_delay_s=0.01, timeout_s=1.0)
SPECS = {"openai": ModelSpec("m", "openai", "incumbent-v1"),
         "anthropic": ModelSpec("m", "anthropic", "candidate-a")}


def url_for(server, spec):
    return server.anthropic_base_url if spec.provider == "anthropic" else server.base_url


@pytest.mark.parametrize("provider", sorted(SPECS))
@pytest.mark.parametrize("fault", [
    Fault("rate_limit", times=2, share=0.5, retry_after_s=0.02),
    Fault("server_error", times=1, share=0.5),
    Fault("malformed", times=1, share=0.5),
    Fault("drop", times=1, share=0.5),
    Fault("slow", times=1, share=0.3, delay_s=1.5),  # longer than the 1 s client time-out
], ids=lambda f: f.kind)
def test_faults_are_retried_without_loss_or_duplication(small_traffic, provider, fault):
    requests, spec = small_traffic.head(24), SPECS[provider]
    with offline_server.serve(fault=fault) as server:
        out = replay(requests, spec, "k", url_for(server, spec), Limits(concurrency=8), FAST)
        injected = server.faults
    assert injected > 0
    assert sorted(out["request_id"]) == sorted(requests["request_id"])  # one row each
    assert (out["status"] == "ok").all(), out["error"].dropna().unique()
    assert int((out["attempts"] - 1).sum()) == injected  # every fault cost exactly one retry


@pytest.mark.parametrize("written_as, wait_s", [("seconds", 0.3), ("ms", 0.3), ("http-date", 1.0)])
def test_retry_after_is_honoured(small_traffic, written_as, wait_s):
    spec = SPECS["openai"]
    fault = Fault("rate_limit", retry_after_s=wait_s, retry_after_as=written_as)
    with offline_server.serve(fault=fault) as server:
        out = replay(small_traffic.head(2), spec, "k", server.base_url, Limits(concurrency=2),
                     FAST)
        first, retried = sorted(server.arrival_times)[:2], sorted(server.arrival_times)[2:]
    assert (out["attempts"] == 2).all() and len(retried) == 2
    # FAST's own back-off is at most 10 ms: only the header explains the wait.
    assert min(retried) - max(first) > wait_s - 0.05
    assert (out["latency_ms"] < 300).all()  # latency is the successful attempt's own


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_refused_key_stops_the_replay_and_loses_nothing(small_traffic, provider):
    spec = SPECS[provider]
    requests = small_traffic.head(40)
    with offline_server.serve(api_key="right-key") as server:
        with pytest.raises(ProviderRejected,
                           match="refused the request.*check the API key") as caught:
            replay(requests, spec, "wrong-key", url_for(server, spec), Limits(concurrency=4), FAST)
        reached = len(server.arrival_times)
    out = caught.value.records
    assert out["request_id"].tolist() == requests["request_id"].tolist()
    assert (out["status"] == "error").all()
    sent = out["attempts"] == 1  # never retried
    assert sent.sum() == reached <= 4 and (out.loc[~sent, "attempts"] == 0).all()
    assert out.loc[sent, "error"].str.startswith("AuthenticationError").all()
    assert out.loc[~sent, "error"].str.startswith("not sent: the replay stopped at "
                                                  "AuthenticationError").all()
    assert "wrong-key" not in str(caught.value) + "".join(out["error"])


def test_an_unknown_path_or_model_stops_the_replay(small_traffic):
    with offline_server.serve() as server:
        with pytest.raises(ProviderRejected, match="NotFoundError") as caught:
            replay(small_traffic.head(20), SPECS["openai"], "k", server.base_url + "/nope",
                   Limits(concurrency=2), FAST)
    assert (caught.value.records["attempts"] <= 1).all()
    assert (caught.value.records["attempts"] == 0).sum() >= 18


def test_requests_a_refusal_left_unsent_are_stored_and_sent_by_the_next_run(tmp_path,
                                                                           small_traffic):
    requests = small_traffic.head(30)[["request_id", "system", "prompt"]]
    spec = SPECS["anthropic"]
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    apply_schema(conn)
    with offline_server.serve(api_key="right-key") as server:
        with pytest.raises(ProviderRejected) as caught:
            replay_into(conn, requests, spec, "wrong-key", server.anthropic_base_url,
                        Limits(concurrency=3), FAST)
        summary = caught.value.summary
        assert summary["failed"] == 30 and summary["succeeded"] == 0 and summary["retries"] == 0
        stored = conn.execute("SELECT count(*) FROM responses WHERE status = 'error'").fetchone()
        assert stored == (30,)
        again = replay_into(conn, requests, spec, "right-key", server.anthropic_base_url,
                            Limits(concurrency=3), FAST)
    assert again["succeeded"] == 30 and again["cache_hits"] == 0


def test_exhausted_retries_stay_visible_and_the_rerun_finishes_the_job(tmp_path, small_traffic):
    requests = small_traffic.head(20)[["request_id", "system", "prompt"]]
    spec = SPECS["openai"]
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    apply_schema(conn)
    failing = Fault("server_error", times=FAST.max_attempts, share=0.4)
    with offline_server.serve(fault=failing) as server:
        first = replay_into(conn, requests, spec, "k", server.base_url, policy=FAST)
    assert first["failed"] > 0 and first["succeeded"] + first["failed"] == 20
    assert conn.execute("SELECT count(*) FROM responses").fetchone()[0] == 20
    with offline_server.serve() as server:
        second = replay_into(conn, requests, spec, "k", server.base_url, policy=FAST)
        assert server.requests == first["failed"]  # only the failures are sent again
    assert second["cache_hits"] == first["succeeded"] and second["failed"] == 0
    with offline_server.serve() as server:
        third = replay_into(conn, requests, spec, "k", server.base_url, policy=FAST)
        assert server.requests == 0
    assert third["cache_hits"] == 20
    rows = conn.execute(
        "SELECT count(*), count(DISTINCT request_id), min(attempts) FROM responses").fetchone()
    assert rows[:2] == (20, 20) and rows[2] >= 1


def _materialize_replay(database, base_url: str, model: str, **options):
    """traffic_sample and replay_responses of 40 demo requests for one OpenAI-compatible model
    (model id candidate-a, 4 in flight), its key from OPENAI_COMPATIBLE_API_KEY; the demo
    traffic's logged answers are those of the retired incumbent."""
    resources = {
        "warehouse": Warehouse(database=str(database)),
        "sources": DataSources(demo_dir=str(database.parent / "demo"), demo_rows=40,
                               demo_labels_per_dimension=5),
        "models": ModelRegistry(
            incumbent="incumbent-v1", concurrency=4,
            openai_compatible_api_key=EnvVar("OPENAI_COMPATIBLE_API_KEY"),
            models=[ModelConfig(name=model, provider="openai_compatible",
                                model_id="candidate-a", base_url=base_url),
                    ModelConfig(name="incumbent-v1", provider="openai", model_id="incumbent-v1",
                                retired=True)],
        ),
    }
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("model", [model])
    return materialize([traffic_sample, replay_responses], resources=resources,
                       instance=instance, partition_key=model, **options)


def test_keys_never_reach_logs_metadata_or_tables(tmp_path, monkeypatch, caplog):
    secret = "sk-test-DO-NOT-LEAK-0123456789"
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", secret)
    database = tmp_path / "w.duckdb"
    with offline_server.serve(api_key=secret) as server:
        result = _materialize_replay(database, server.base_url, "candidate-a")
    assert result.success
    with duckdb.connect(str(database)) as conn:
        assert conn.execute(
            "SELECT count(*) FROM responses WHERE status = 'ok' AND source = 'replay'"
        ).fetchone()[0] == 40
        dump = "".join(str(row) for t in ("traffic", "responses")
                       for row in conn.execute(f"SELECT * FROM {t}").fetchall())
    events = "".join(str(event) for event in result.all_events)
    assert secret not in dump and secret not in events and secret not in caplog.text
    assert secret.encode() not in database.read_bytes()


def test_a_refused_key_fails_the_asset_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", "sk-wrong-key-000")
    database = tmp_path / "w.duckdb"
    with offline_server.serve(api_key="sk-right-key-111") as server:
        result = _materialize_replay(database, server.base_url, "local", raise_on_error=False)
        reached = len(server.arrival_times)
    assert not result.success and reached <= 4
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.step_failure_data.error.cause.message  # under Dagster's step wrapper
    assert "local: the provider refused the request" in message
    assert "check the API key" in message and "sk-wrong-key-000" not in message
    with duckdb.connect(str(database)) as conn:
        assert conn.execute("SELECT count(*), count_if(attempts = 0) FROM responses "
                            "WHERE status = 'error'").fetchone() == (40, 40 - reached)
