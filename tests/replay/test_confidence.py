"""Confidence from replay: token log-probabilities through the real OpenAI SDK and the loopback
provider into `responses.confidence`; the demo's log-probabilities carry its correctness."""

import hashlib
import json

import duckdb
import numpy as np
from scipy.stats import spearmanr

from pipeline.data.warehouse import apply_schema
from pipeline.demo import confidence as demo_confidence
from pipeline.demo import server as offline_server
from pipeline.demo import world
from pipeline.replay.online import ModelSpec, RetryPolicy, mean_logprob, request_hash
from pipeline.replay.store import replay_into
from resources import ModelConfig

FAST = RetryPolicy(max_attempts=2, base_delay_s=0.01, timeout_s=5)


def test_the_mean_token_logprob_reaches_responses_and_anthropic_gets_null(tmp_path,
                                                                          small_traffic):
    requests = small_traffic.head(30)[["request_id", "system", "prompt"]]
    asks = ModelConfig(name="b", provider="openai_compatible", model_id="candidate-b").spec()
    none = ModelConfig(name="a", provider="anthropic", model_id="candidate-a").spec()
    assert asks.logprobs and not none.logprobs  # the registry's defaults
    with offline_server.serve() as server, duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        apply_schema(conn)
        replay_into(conn, requests, asks, "k", server.base_url, policy=FAST)
        replay_into(conn, requests, none, "k", server.anthropic_base_url, policy=FAST)
        stored = conn.execute("SELECT request_id, model, response, confidence FROM responses "
                              "ORDER BY model, request_id").df()
    b, a = stored[stored["model"] == "b"], stored[stored["model"] == "a"]
    assert len(b) == len(a) == 30 and a["confidence"].isna().all()
    assert b["confidence"].notna().all() and (b["confidence"] <= 0).all()
    # exactly the mean of the tokens' log-probabilities the provider returned
    row = small_traffic.set_index("request_id").loc[b["request_id"].iloc[0]]
    text = b["response"].iloc[0]
    expected = np.mean(demo_confidence.token_logprobs("candidate-b", row["system"],
                                                      row["prompt"], len(text.split())))
    assert abs(b["confidence"].iloc[0] - expected) < 1e-6


def test_a_model_that_does_not_ask_keeps_its_request_hash():
    spec = ModelSpec("m", "openai", "gpt-x")
    content = {"provider": "openai", "model_id": "gpt-x", "temperature": None,
               "max_tokens": 512, "system": "sys", "prompt": "hello"}
    before = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    assert request_hash(spec, "sys", "hello") == before  # the hash of earlier releases
    asking = ModelSpec("m", "openai", "gpt-x", logprobs=True)
    assert request_hash(asking, "sys", "hello") != before  # what is sent differs


def test_mean_logprob_reads_a_choice_and_tolerates_none():
    choice = {"logprobs": {"content": [{"token": "a", "logprob": -0.5},
                                       {"token": "b", "logprob": -1.5}]}}
    assert mean_logprob(choice) == -1.0
    assert mean_logprob({"logprobs": None}) is None and mean_logprob({}) is None
    assert mean_logprob({"logprobs": {"content": []}}) is None


def test_the_demo_logprobs_rank_answers_by_correctness():
    traffic = world.generate_traffic(250, seed=4)
    for model in world.MODELS:
        truth, confidence = [], []
        for system, prompt in zip(traffic["system"], traffic["prompt"]):
            answer = world.answer(model, system, prompt)
            if answer.truth["correctness"] is None:
                continue
            values = demo_confidence.token_logprobs(model, system, prompt,
                                                    len(answer.text.split()))
            truth.append(answer.truth["correctness"] >= 4)
            confidence.append(np.mean(values))
        rho = spearmanr(truth, confidence)[0]
        assert 0.35 < rho < 0.9, (model, rho)  # real signal, far from a perfect one
    again = demo_confidence.token_logprobs("candidate-b", "s", "p", 5)
    assert again == demo_confidence.token_logprobs("candidate-b", "s", "p", 5)  # deterministic
