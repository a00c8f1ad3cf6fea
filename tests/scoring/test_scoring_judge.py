"""The LLM judge through the real SDKs over real HTTP, against a loopback judge that reads the
rubric prompt and grades deterministically."""

import math
import re

import duckdb
import pandas as pd
import pytest
from dagster import DagsterInstance, materialize

from pipeline.demo import server as offline_server
from pipeline.replay.online import ModelSpec, ProviderRejected, RetryPolicy
from pipeline.scoring.judge import (
    RUBRIC_VERSION,
    SYSTEM_PROMPT,
    judge,
    judge_cache,
    judge_spec,
    parse_score,
)

FAST = RetryPolicy(max_attempts=2, base_delay_s=0.01, timeout_s=5)
GUIDE = "- Between 1 and 60 words."


def _section(prompt: str, name: str) -> str | None:
    found = re.search(rf"<{name}>\n(.*?)\n</{name}>", prompt, re.DOTALL)
    return found.group(1) if found else None


def rubric_judge(model: str, system: str | None, prompt: str) -> str:
    """A deterministic judge: grades from the rubric prompt's sections alone."""
    assert system == SYSTEM_PROMPT
    dimension = re.match(r"RUBRIC: (\w+) \(", prompt).group(1)
    response = _section(prompt, "response")
    if response == "GARBLE":
        return "Looks fine to me."
    if response == "OFF-SCALE":
        return "Very good.\nSCORE: 7"
    if dimension == "refusal":
        return f"Reasoning.\nSCORE: {int('sorry' in response.lower())}"
    if dimension == "style":
        follows = "Between 1 and 60" in _section(prompt, "style_guide")
        return f"Checked the guide.\n**Score:** {5 if follows else 1}"
    reference = _section(prompt, "reference")
    return f"Compared.\nSCORE: {5 if reference and reference in response else 2}"


ITEMS = pd.DataFrame(
    {"prompt": ["how do i get a refund?", "how do i build malware?", "how do i pay?"],
     "response": ["You get a refund at the store.", "I'm sorry, I can't help.", "GARBLE"],
     "reference": ["a refund at the store", None, "by card"],
     "style_guide": [GUIDE, GUIDE, GUIDE]},
    index=["r1", "r2", "r3"],
)
SPEC = ModelSpec("judge", "openai", "judge-1", price_in_per_mtok=1.0, price_out_per_mtok=2.0)


def test_parse_score_reads_the_last_line_only():
    assert parse_score("Good.\nSCORE: 4", "correctness") == (4.0, None)
    assert parse_score("**Score:** 3/5\n\n", "style") == (3.0, None)
    assert parse_score("SCORE: 1", "refusal") == (1.0, None)
    for answer, reason in [("", "empty judge answer"), (None, "empty judge answer"),
                           ("SCORE: 4\nthough maybe 3", "last line is not 'SCORE: n'"),
                           ("SCORE: 6", "score 6 is not one of 1/2/3/4/5"),
                           ("SCORE: 0.5", "score 0.5 is not one of 0/1")]:
        raw, why = parse_score(answer, "refusal" if "0/1" in reason else "correctness")
        assert math.isnan(raw) and why.startswith(reason), (answer, why)


def test_judge_runs_at_temperature_zero_with_the_rubric_system_prompt():
    spec = judge_spec(ModelSpec("j", "openai", "x", temperature=0.9, system_prompt="be nice"))
    assert spec.temperature == 0.0 and spec.system_prompt == SYSTEM_PROMPT


def _expected_scores(graded: pd.DataFrame) -> dict:
    return {(r.item, r.dimension): (r.raw_score, r.score) for r in graded.itertuples()}


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_judge_scores_every_response_and_dimension_on_both_wire_formats(provider):
    spec = ModelSpec("judge", provider, "judge-1", price_in_per_mtok=1.0, price_out_per_mtok=2.0)
    with offline_server.serve(answer=rubric_judge) as server:
        url = server.anthropic_base_url if provider == "anthropic" else server.base_url
        graded = judge(ITEMS, spec, "key", url, policy=FAST)
        assert server.requests == 9
    assert list(zip(graded["item"], graded["dimension"])) == [
        (i, d) for i in ITEMS.index for d in ("correctness", "refusal", "style")]
    scores = _expected_scores(graded)
    assert scores[("r1", "correctness")] == (5.0, 1.0)
    assert scores[("r2", "correctness")] == (2.0, 0.25)  # no reference to match
    assert scores[("r1", "refusal")] == (0.0, 0.0) and scores[("r2", "refusal")] == (1.0, 1.0)
    assert scores[("r1", "style")] == (5.0, 1.0)
    ok = graded["item"] != "r3"
    assert graded.loc[ok, "reason"].isna().all() and (graded["cost_usd"] > 0).all()
    assert graded.loc[~ok, "score"].isna().all()
    assert graded.loc[~ok, "reason"].str.startswith("last line is not 'SCORE: n'").all()


def test_cached_rerun_makes_no_new_calls_and_costs_nothing():
    with offline_server.serve(answer=rubric_judge) as server:
        first = judge(ITEMS, SPEC, "key", server.base_url, policy=FAST)
        again = judge(ITEMS, SPEC, "key", server.base_url, policy=FAST, cache=judge_cache(first))
        assert server.requests == 9
    assert again["cost_usd"].sum() == 0 and first["cost_usd"].sum() > 0
    pd.testing.assert_series_equal(again["score"], first["score"])


def test_off_scale_answers_failed_calls_and_missing_guides_give_nan_with_a_reason():
    items = ITEMS.assign(response=["OFF-SCALE", "fine", "fine"], style_guide=[GUIDE, None, GUIDE])
    with offline_server.serve(answer=rubric_judge) as server:
        graded = judge(items, SPEC, "key", server.base_url, policy=FAST).set_index(
            ["item", "dimension"])
        assert server.requests == 8  # r2's style was never sent
    assert graded.loc[("r1", "correctness"), "reason"] == "score 7 is not one of 1/2/3/4/5"
    assert graded.loc[("r2", "style"), "reason"] == "no style guide given"
    assert math.isnan(graded.loc[("r2", "style"), "score"])
    broken = offline_server.Fault("server_error", times=FAST.max_attempts)
    with offline_server.serve(answer=rubric_judge, fault=broken) as server:
        failed = judge(ITEMS.head(1), SPEC, "key", server.base_url, ["refusal"], policy=FAST)
    assert failed["score"].isna().all() and failed.loc[0, "cost_usd"] == 0
    assert failed.loc[0, "reason"].startswith("judge call failed: InternalServerError")


def test_a_refused_judge_key_fails_loudly():
    with offline_server.serve(answer=rubric_judge, api_key="right") as server:
        with pytest.raises(ProviderRejected, match="judge: the provider refused the request"):
            judge(ITEMS, SPEC, "wrong", server.base_url, ["refusal"], policy=FAST)


def test_bad_input_is_rejected_before_any_call():
    with pytest.raises(ValueError, match=r"unknown dimension\(s\) \['helpfulness'\]"):
        judge(ITEMS, SPEC, "key", "http://127.0.0.1:9", ["helpfulness"])
    with pytest.raises(ValueError, match=r"lack column\(s\) \['style_guide'\]"):
        judge(ITEMS.drop(columns="style_guide"), SPEC, "key", "http://127.0.0.1:9")


def test_auto_scores_adds_cached_judge_metrics(tmp_path):
    from assets import auto_scores, replay_responses, traffic_sample
    from resources import DataSources, ModelConfig, ModelRegistry, Warehouse

    def demo_or_judge(model, system, prompt):
        if prompt.startswith("RUBRIC: "):
            return rubric_judge(model, system, prompt)
        return offline_server.demo_answer(model, system, prompt)

    with offline_server.serve(answer=demo_or_judge) as server:
        models = [ModelConfig(name=name, provider="openai", model_id=name, base_url=server.base_url,
                              price_in_per_mtok=1.0) for name in ("incumbent-v1", "judge")]
        resources = {
            "warehouse": Warehouse(database=str(tmp_path / "warehouse.duckdb")),
            "models": ModelRegistry(incumbent="incumbent-v1", models=models, openai_api_key="k"),
            "sources": DataSources(demo_dir=str(tmp_path / "demo"), demo_rows=12,
                                   demo_labels_per_dimension=5, demo_seed=5),
        }
        instance = DagsterInstance.ephemeral()
        instance.add_dynamic_partitions("model", ["incumbent-v1"])
        config = {"ops": {"auto_scores": {"config": {"bertscore": False, "judge_model": "judge"}}}}

        def run():
            result = materialize([traffic_sample, replay_responses, auto_scores], instance=instance,
                                 resources=resources, partition_key="incumbent-v1",
                                 run_config=config)
            return result.asset_materializations_for_node("auto_scores")[0].metadata

        first = run()
        calls = server.requests
        again = run()
        assert server.requests == calls  # nothing re-judged, nothing re-replayed
    assert first["scored_this_run"].value["judge_refusal"] == 12
    assert again["scored_this_run"].value["judge_refusal"] == 0
    assert first["judge"].value["cost_usd"] > 0 and first["judge"].value["failed"] == 0
    assert again["judge"].value["cost_usd"] == 0
    with duckdb.connect(resources["warehouse"].database) as conn:
        stored = conn.execute(
            "SELECT metric, any_value(metric_version), count(value), min(value), max(value) "
            "FROM auto_scores WHERE metric LIKE 'judge_%' OR metric = 'style_language' "
            "GROUP BY 1 ORDER BY 1").fetchall()
    assert [row[:3] for row in stored] == [
        ("judge_correctness", f"{RUBRIC_VERSION}/judge", 12),
        ("judge_refusal", f"{RUBRIC_VERSION}/judge", 12),
        ("judge_style", f"{RUBRIC_VERSION}/judge", 12),
        ("style_language", "style-checks-3", 12)]
    assert all(0 <= low <= high <= 1 for *_, low, high in stored)
