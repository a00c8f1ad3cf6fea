"""Batch replay through the real SDKs over real HTTP against the loopback batch APIs: end to
end for both providers, crash and resume without a second submission, in-batch errors retried
by the next run, the batch price, and no key in any table."""

import json
import os
import socket
import subprocess
import sys
import time

import duckdb
import pandas as pd
import pytest
from dagster import DagsterInstance, materialize

from assets import replay_responses, traffic_sample
from pipeline.data.warehouse import apply_schema
from pipeline.demo import server as offline_server
from pipeline.demo import world as demo_world
from pipeline.demo.server import BatchBehaviour, Fault
from pipeline.replay import batch as batch_replay
from pipeline.replay.batch import (
    BatchPolicy,
    BatchRefused,
    batch_gateway,
    replay_batch_into,
    submit,
)
from pipeline.replay.online import ModelSpec, RetryPolicy
from pipeline.replay.store import replay_into
from resources import DataSources, ModelConfig, ModelRegistry, Warehouse

SECRET = "sk-batch-DO-NOT-LEAK-987654321"
FAST = BatchPolicy(poll_interval_s=0.02, timeout_s=20)
SPECS = {
    "openai": ModelSpec("inc", "openai", "incumbent-v1", price_in_per_mtok=2.0,
                        price_out_per_mtok=8.0),
    "anthropic": ModelSpec("cand", "anthropic", "candidate-a", price_in_per_mtok=3.0,
                           price_out_per_mtok=15.0),
}


def url_for(server, spec):
    return server.anthropic_base_url if spec.provider == "anthropic" else server.base_url


@pytest.fixture
def conn(tmp_path):
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    apply_schema(connection)
    yield connection
    connection.close()


@pytest.fixture
def requests(small_traffic):
    return small_traffic.head(25)[["request_id", "system", "prompt"]].reset_index(drop=True)


def responses(conn, model):
    return conn.execute("SELECT * FROM responses WHERE model = ? ORDER BY request_id",
                        [model]).df()


@pytest.mark.parametrize("provider", sorted(SPECS))
def test_batch_end_to_end_answers_every_request_once(conn, requests, provider):
    spec = SPECS[provider]
    with offline_server.serve(api_key=SECRET, batch=BatchBehaviour(polls=2)) as server:
        summary = replay_batch_into(conn, requests, spec, SECRET, url_for(server, spec), FAST)
        assert server.batches == 1 and server.requests == len(requests)
    assert summary["succeeded"] == len(requests) and summary["failed"] == 0
    assert summary["pending"] == 0 and len(summary["batch_ids"]) == 1
    rows = responses(conn, spec.name)
    assert sorted(rows["request_id"]) == sorted(requests["request_id"])
    assert (rows["status"] == "ok").all() and (rows["attempts"] == 1).all()
    assert rows["latency_ms"].isna().all()  # a batch has no per-request latency
    expected = {r.request_id: demo_world.answer(spec.model_id, r.system, r.prompt).text
                for r in requests.itertuples()}
    assert rows.set_index("request_id")["response"].to_dict() == expected
    batch = conn.execute("SELECT status, request_count, completed_at IS NOT NULL, provider "
                         "FROM batches").fetchall()
    assert batch == [("collected", len(requests), True, provider)]


@pytest.mark.parametrize("provider", sorted(SPECS))
def test_batch_costs_half_the_online_price_and_shares_its_cache(tmp_path, requests, provider):
    spec = SPECS[provider]
    online, batched = (duckdb.connect(str(tmp_path / f"{n}.duckdb")) for n in ("on", "batch"))
    for connection in (online, batched):
        apply_schema(connection)
    with offline_server.serve() as server:
        replay_into(online, requests, spec, "k", url_for(server, spec),
                    policy=RetryPolicy(max_attempts=1))
        summary = replay_batch_into(batched, requests, spec, "k", url_for(server, spec), FAST)
        # The online rows are a cache the batch replay honours: nothing to submit.
        again = replay_batch_into(online, requests, spec, "k", url_for(server, spec), FAST)
        assert server.batches == 1
    assert again["cache_hits"] == len(requests) and again["batch_ids"] == []
    on, off = responses(online, spec.name), responses(batched, spec.name)
    assert on["request_hash"].tolist() == off["request_hash"].tolist()
    assert on["tokens_in"].tolist() == off["tokens_in"].tolist()
    assert off["cost_usd"].to_numpy() == pytest.approx(0.5 * on["cost_usd"].to_numpy(), rel=1e-12)
    list_price = (off["tokens_in"] * spec.price_in_per_mtok
                  + off["tokens_out"] * spec.price_out_per_mtok) / 1e6
    assert summary["cost_usd"] == pytest.approx(0.5 * float(list_price.sum()), abs=1e-6)
    assert summary["cost_usd"] > 0


def test_batch_discount_is_configurable(conn, requests):
    spec = ModelSpec("m", "openai", "incumbent-v1", price_in_per_mtok=1.0,
                     price_out_per_mtok=1.0, batch_discount=0.0)
    with offline_server.serve() as server:
        replay_batch_into(conn, requests, spec, "k", server.base_url, FAST)
    rows = responses(conn, "m")
    full = (rows["tokens_in"] + rows["tokens_out"]) / 1e6
    assert rows["cost_usd"].to_numpy() == pytest.approx(full.to_numpy(), rel=1e-12)


@pytest.mark.parametrize("provider", sorted(SPECS))
def test_crash_after_submit_resumes_the_same_batch(conn, requests, provider):
    spec = SPECS[provider]
    with offline_server.serve(batch=BatchBehaviour(polls=3)) as server:
        url = url_for(server, spec)
        gateway = batch_gateway(spec, "k", url)
        [submitted] = submit(conn, gateway, requests, spec, max_requests=1000)
        gateway.close()  # the process "dies" here: recorded, never waited for
        assert conn.execute("SELECT status FROM batches").fetchall() == [("submitted",)]
        summary = replay_batch_into(conn, requests, spec, "k", url, FAST)
        assert server.batches == 1  # resumed, not submitted again
        assert server.requests == len(requests)
    assert summary["batch_ids"] == [submitted]
    assert summary["succeeded"] == len(requests) and summary["cache_hits"] == 0
    assert conn.execute("SELECT status FROM batches").fetchall() == [("collected",)]


def test_deadline_leaves_the_batch_for_the_next_run(conn, requests):
    spec = SPECS["anthropic"]
    with offline_server.serve(batch=BatchBehaviour(polls=0, delay_s=0.6)) as server:
        url = url_for(server, spec)
        first = replay_batch_into(conn, requests, spec, "k", url,
                                  BatchPolicy(poll_interval_s=0.05, timeout_s=0.1))
        assert first["pending"] == len(requests) and first["succeeded"] == 0
        assert conn.execute("SELECT count(*) FROM responses").fetchone()[0] == 0
        time.sleep(0.6)
        second = replay_batch_into(conn, requests, spec, "k", url, FAST)
        third = replay_batch_into(conn, requests, spec, "k", url, FAST)
        assert server.batches == 1
    assert second["batch_ids"] == first["batch_ids"] and second["succeeded"] == len(requests)
    assert third["cache_hits"] == len(requests) and third["batch_ids"] == []


@pytest.mark.parametrize("provider,fault,error_class", [
    ("openai", Fault("server_error", share=0.4), "InternalServerError"),
    ("anthropic", Fault("rate_limit", share=0.4), "RateLimitError"),
])
def test_in_batch_errors_are_recorded_then_retried_by_the_next_run(conn, requests, provider,
                                                                    fault, error_class):
    spec = SPECS[provider]
    with offline_server.serve(fault=fault) as server:
        url = url_for(server, spec)
        first = replay_batch_into(conn, requests, spec, "k", url, FAST)
        failed = responses(conn, spec.name).query("status == 'error'")
        assert first["failed"] == len(failed) == server.faults > 0
        assert failed["error"].str.startswith(error_class).all(), failed["error"].tolist()
        assert failed["response"].isna().all() and failed["cost_usd"].isna().all()
        second = replay_batch_into(conn, requests, spec, "k", url, FAST)
        assert server.batches == 2 and server.requests == len(requests)
        third = replay_batch_into(conn, requests, spec, "k", url, FAST)
        assert server.batches == 2 and server.requests == len(requests)  # nothing sent
    sizes = conn.execute("SELECT request_count FROM batches ORDER BY submitted_at").fetchall()
    assert sizes == [(len(requests),), (len(failed),)]  # only the failures went again
    assert second["succeeded"] == len(failed) and second["cache_hits"] == first["succeeded"]
    assert third["cache_hits"] == len(requests) and third["batch_ids"] == []
    rows = responses(conn, spec.name).set_index("request_id")
    assert (rows["status"] == "ok").all()
    assert (rows.loc[failed["request_id"], "attempts"] == 2).all()


def test_large_replays_are_split_into_several_batches(conn, requests):
    spec = SPECS["openai"]
    with offline_server.serve() as server:
        small_batches = BatchPolicy(poll_interval_s=0.02, timeout_s=20, max_requests=10)
        summary = replay_batch_into(conn, requests, spec, "k", server.base_url, small_batches)
        assert server.batches == 3
    assert len(summary["batch_ids"]) == 3 and summary["succeeded"] == len(requests)
    mapped = conn.execute("SELECT count(DISTINCT request_id) FROM batch_requests").fetchone()[0]
    assert mapped == len(requests)


def test_a_batch_the_provider_lost_is_sent_again(conn, requests):
    spec = SPECS["openai"]
    with offline_server.serve() as server:
        gateway = batch_gateway(spec, "k", server.base_url)
        submit(conn, gateway, requests, spec, max_requests=1000)
        gateway.close()
    with offline_server.serve() as other:  # knows nothing of that batch
        first = replay_batch_into(conn, requests, spec, "k", other.base_url, FAST)
        second = replay_batch_into(conn, requests, spec, "k", other.base_url, FAST)
        assert other.batches == 1
    assert first["batch_ids"] and first["succeeded"] == 0 and first["pending"] == 0
    assert second["succeeded"] == len(requests)
    states = conn.execute("SELECT status FROM batches ORDER BY submitted_at").fetchall()
    assert states == [("lost",), ("collected",)]


# --- the window between sending a batch and recording the provider's answer ---------------

def batch_states(conn):
    return conn.execute("SELECT status, batch_id FROM batches ORDER BY submitted_at").fetchall()


@pytest.mark.parametrize("provider", sorted(SPECS))
def test_a_lost_create_reply_is_adopted_not_sent_twice(conn, requests, provider):
    spec = SPECS[provider]
    with offline_server.serve(batch=BatchBehaviour(lost_create_replies=1)) as server:
        summary = replay_batch_into(conn, requests, spec, "k", url_for(server, spec), FAST)
        assert server.batches == 1 and server.requests == len(requests)
    assert summary["succeeded"] == len(requests) and summary["unsettled"] == []
    [(state, batch_id)] = batch_states(conn)
    assert state == "collected" and batch_id == summary["batch_ids"][0]
    assert batch_id.startswith("batch_" if provider == "openai" else "msgbatch_")
    moved = conn.execute("SELECT DISTINCT batch_id FROM batch_requests").fetchall()
    assert moved == [(batch_id,)]  # the requests now belong to the provider's batch


@pytest.mark.parametrize("provider", sorted(SPECS))
def test_a_crash_before_the_acceptance_is_recorded_is_settled_next_run(conn, requests, provider,
                                                                      monkeypatch):
    spec = SPECS[provider]

    def die(*_args):
        raise SystemExit("killed between the provider's answer and the local write")

    with offline_server.serve() as server:
        url = url_for(server, spec)
        with monkeypatch.context() as patched:
            patched.setattr(batch_replay, "record_acceptance", die)
            with pytest.raises(SystemExit):
                replay_batch_into(conn, requests, spec, "k", url, FAST)
        [(state, submission_id)] = batch_states(conn)
        assert state == "submitting" and submission_id.startswith("sub_")
        summary = replay_batch_into(conn, requests, spec, "k", url, FAST)
        assert server.batches == 1 and server.requests == len(requests)
    assert summary["succeeded"] == len(requests)
    assert [state for state, _ in batch_states(conn)] == ["collected"]


def test_a_submission_that_never_reached_the_provider_is_sent_again(conn, requests):
    import openai

    spec = SPECS["openai"]
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{closed.getsockname()[1]}/v1"
    with pytest.raises(openai.APIConnectionError):
        replay_batch_into(conn, requests, spec, "k", dead_url, FAST)
    assert [state for state, _ in batch_states(conn)] == ["submitting"]  # outcome unknown
    with offline_server.serve() as server:
        summary = replay_batch_into(conn, requests, spec, "k", server.base_url, FAST)
        assert server.batches == 1
    assert summary["succeeded"] == len(requests)
    assert [state for state, _ in batch_states(conn)] == ["not_accepted", "collected"]


def test_anthropic_submissions_of_the_same_size_are_told_apart_by_their_results(conn, requests,
                                                                               monkeypatch):
    """Message batches carry no metadata: when another batch of the same size was created at
    the same time, the submission waits until the results of an ended one tell them apart."""
    import anthropic

    spec = SPECS["anthropic"]
    with offline_server.serve(batch=BatchBehaviour(polls=0, delay_s=0.5)) as server:
        url = url_for(server, spec)
        client = anthropic.Anthropic(api_key="k", base_url=url)
        foreign = client.messages.batches.create(requests=[
            {"custom_id": f"other-{i}", "params": {"model": "candidate-a", "max_tokens": 8,
                                                   "messages": [{"role": "user", "content": p}]}}
            for i, p in enumerate(requests.prompt)])
        gateway = batch_gateway(spec, "k", url)
        with monkeypatch.context() as patched:
            patched.setattr(batch_replay, "record_acceptance", lambda *_: None)  # dies unrecorded
            submit(conn, gateway, requests, spec, max_requests=1000)
        gateway.close()
        [(_, submission_id)] = batch_states(conn)
        while_running = replay_batch_into(conn, requests, spec, "k", url, FAST)
        assert server.batches == 2  # nothing sent again while it cannot tell
        assert while_running["unsettled"] == [submission_id]
        assert while_running["pending"] == len(requests) and while_running["succeeded"] == 0
        time.sleep(0.5)
        client.messages.batches.retrieve(foreign.id)  # it ends: its custom_ids rule it out
        after = replay_batch_into(conn, requests, spec, "k", url, FAST)
        assert server.batches == 2
    assert after["unsettled"] == [] and after["succeeded"] == len(requests)
    [(state, batch_id)] = batch_states(conn)
    assert state == "collected" and batch_id not in (foreign.id, submission_id)


def test_the_key_is_checked_and_never_stored(tmp_path, conn, requests):
    spec = SPECS["anthropic"]
    with offline_server.serve(api_key=SECRET, fault=Fault("server_error", share=0.3)) as server:
        with pytest.raises(Exception, match="401"):
            replay_batch_into(conn, requests, spec, "wrong-key", url_for(server, spec), FAST)
        assert server.batches == 0
        replay_batch_into(conn, requests, spec, SECRET, url_for(server, spec), FAST)
    dump = "".join(str(row) for table in ("responses", "batches", "batch_requests")
                   for row in conn.execute(f"SELECT * FROM {table}").fetchall())
    assert "error" in dump and SECRET not in dump
    conn.execute("CHECKPOINT")
    assert SECRET.encode() not in (tmp_path / "w.duckdb").read_bytes()


def test_boundary_validation(conn, requests):
    with pytest.raises(ValueError, match="no batch API"):
        replay_batch_into(conn, requests, ModelSpec("m", "openai_compatible", "x"), "k")
    with pytest.raises(ValueError, match="batch_discount"):
        replay_batch_into(conn, requests, ModelSpec("m", "openai", "x", batch_discount=1.5), "k")
    with pytest.raises(ValueError, match="lack column"):
        replay_batch_into(conn, requests.drop(columns="system"), SPECS["openai"], "k")


def test_loopback_batch_endpoints_reject_bad_input():
    import openai

    with offline_server.serve() as server:
        client = openai.OpenAI(api_key="k", base_url=server.base_url, max_retries=0)
        with pytest.raises(openai.BadRequestError):
            client.files.create(file=("x.jsonl", b"{}\n"), purpose="fine-tune")
        with pytest.raises(openai.BadRequestError):
            client.batches.create(input_file_id="file-nope", endpoint="/v1/chat/completions",
                                  completion_window="24h")
        bad = client.files.create(file=("x.jsonl", b'{"custom_id": "a"}\n'), purpose="batch")
        batch = client.batches.create(input_file_id=bad.id, endpoint="/v1/chat/completions",
                                      completion_window="24h")
        failed = client.batches.retrieve(batch.id)
        with pytest.raises(openai.NotFoundError):
            client.batches.retrieve("batch_unknown")
    assert failed.status == "failed" and failed.errors.data[0].line == 1


def test_loopback_lists_batches_newest_first_across_pages():
    import anthropic
    import openai

    with offline_server.serve() as server:
        oai = openai.OpenAI(api_key="k", base_url=server.base_url)
        made = []
        for tag in ("a", "b", "c"):
            upload = oai.files.create(file=("x.jsonl", json.dumps(openai_line(tag)).encode()),
                                      purpose="batch")
            made.append(oai.batches.create(input_file_id=upload.id, metadata={"tag": tag},
                                           endpoint="/v1/chat/completions",
                                           completion_window="24h").id)
        listed = list(oai.batches.list(limit=2))  # two pages through the SDK's paginator
        claude = anthropic.Anthropic(api_key="k", base_url=server.anthropic_base_url)
        message = {"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "x"}]}
        theirs = [claude.messages.batches.create(requests=[{"custom_id": t, "params": message}]).id
                  for t in ("a", "b", "c")]
        claude_listed = [batch.id for batch in claude.messages.batches.list(limit=2)]
    assert [batch.id for batch in listed] == made[::-1]
    assert [batch.metadata for batch in listed] == [{"tag": t} for t in ("c", "b", "a")]
    assert claude_listed == theirs[::-1]


def openai_line(custom_id):
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "m", "messages": [{"role": "user", "content": "x"}]}}


# --- the command line: a real crash (SIGKILL while polling), then a resume -----------------

def run_cli(*args, key=SECRET, background=False):
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["OPENAI_API_KEY"] = key
    command = [sys.executable, "-m", "pipeline.cli", "replay", *args]
    if background:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env)
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def test_cli_killed_while_polling_resumes_without_resubmitting(tmp_path, requests):
    prompts = tmp_path / "prompts.csv"
    requests.to_csv(prompts, index=False)
    database = tmp_path / "out.duckdb"
    with offline_server.serve(api_key=SECRET, batch=BatchBehaviour(polls=0, delay_s=4)) as server:
        args = [str(prompts), "--provider", "openai", "--model", "incumbent-v1", "--db",
                str(database), "--base-url", server.base_url, "--batch", "--poll-interval", "0.05"]
        crashed = run_cli(*args, background=True)
        started = time.monotonic()
        # It records the batch before its first poll: once it polls, the record is there.
        while server.batch_polls < 2 and time.monotonic() - started < 60:
            time.sleep(0.05)
        crashed.kill()
        crashed.communicate(timeout=30)
        assert server.batches == 1 and server.requests == 0
        resumed = run_cli(*args)
        assert server.batches == 1 and server.requests == len(requests)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["succeeded"] == len(requests) and len(summary["batch_ids"]) == 1
    assert summary["pending"] == 0 and summary["cost_usd"] == 0.0  # no prices given
    assert SECRET not in resumed.stdout + resumed.stderr
    with duckdb.connect(str(database)) as connection:
        assert connection.execute("SELECT batch_id, status FROM batches").fetchall() == [
            (summary["batch_ids"][0], "collected")]


# --- the asset: batch: true in the run config -------------------------------------------------

# The demo traffic carries the logged answers of its retired incumbent.
RETIRED_INCUMBENT = ModelConfig(name="incumbent-v1", provider="openai", model_id="incumbent-v1",
                                retired=True)


def test_asset_replays_through_the_batch_api_when_configured(tmp_path):
    database = tmp_path / "w.duckdb"
    with offline_server.serve(api_key=SECRET) as server:
        resources = {
            "warehouse": Warehouse(database=str(database)),
            "sources": DataSources(demo_dir=str(tmp_path / "demo"), demo_rows=20,
                                   demo_labels_per_dimension=5),
            "models": ModelRegistry(
                incumbent="incumbent-v1", openai_api_key=SECRET,
                models=[ModelConfig(name="candidate-a", provider="openai",
                                    model_id="candidate-a", base_url=server.base_url),
                        RETIRED_INCUMBENT],
            ),
        }
        instance = DagsterInstance.ephemeral()
        instance.add_dynamic_partitions("model", ["candidate-a"])
        result = materialize(
            [traffic_sample, replay_responses], resources=resources, instance=instance,
            partition_key="candidate-a",
            run_config={"ops": {"replay_responses": {"config": {
                "batch": True, "batch_poll_interval_s": 0.02}}}},
        )
        assert server.batches == 1
    assert result.success
    with duckdb.connect(str(database)) as connection:
        assert connection.execute("SELECT source, count(*) FROM responses WHERE status = 'ok' "
                                  "GROUP BY ALL ORDER BY ALL").fetchall() == [
            ("batch", 20), ("logged", 20)]
        assert connection.execute("SELECT status FROM batches").fetchall() == [("collected",)]
    assert SECRET not in "".join(str(event) for event in result.all_events)


def test_requests_with_odd_ids_round_trip(conn):
    odd = pd.DataFrame({"request_id": ["a/b c", "ü-1", "x" * 100], "system": [None] * 3,
                        "prompt": ["hello", "bonjour", "hola"]})
    with offline_server.serve() as server:
        summary = replay_batch_into(conn, odd, SPECS["anthropic"], "k", server.anthropic_base_url,
                                    FAST)
    assert summary["succeeded"] == 3
    assert sorted(responses(conn, "cand")["request_id"]) == sorted(odd["request_id"])


@pytest.mark.parametrize("provider", sorted(SPECS))
def test_a_refused_batch_fails_clearly_and_is_sent_again_once_allowed(conn, requests, provider):
    spec = SPECS[provider]
    with offline_server.serve(api_key="sk-right-key") as server:
        with pytest.raises(BatchRefused, match=r"refused the batch.*check the API key") as caught:
            replay_batch_into(conn, requests, spec, "sk-wrong-key", url_for(server, spec), FAST)
        assert server.batches == 0 and "sk-wrong-key" not in str(caught.value)
        assert [state for state, _ in batch_states(conn)] == ["not_accepted"]
        summary = replay_batch_into(conn, requests, spec, "sk-right-key", url_for(server, spec),
                                    FAST)
    assert summary["succeeded"] == len(requests)


def test_the_cli_reports_a_refused_batch_without_a_traceback(tmp_path, requests):
    prompts = tmp_path / "prompts.csv"
    requests.to_csv(prompts, index=False)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["OPENAI_API_KEY"] = "sk-wrong-key"
    with offline_server.serve(api_key="sk-right-key") as server:
        result = subprocess.run(
            [sys.executable, "-m", "pipeline.cli", "replay", str(prompts), "--provider", "openai",
             "--model", "incumbent-v1", "--db", str(tmp_path / "x.duckdb"), "--base-url",
             server.base_url, "--batch", "--poll-interval", "0.05"],
            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "incumbent-v1: the provider refused the batch" in result.stderr
    assert "sk-wrong-key" not in result.stdout + result.stderr
