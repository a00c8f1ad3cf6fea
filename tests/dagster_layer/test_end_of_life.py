"""The incumbent at end of life: deciding from production's logged answers when its provider
has retired it, and labels tied to the text they judged. Real HTTP to the loopback provider
(answering 404 for the retired model) through the official SDKs, a real DuckDB file, real
Dagster materializations and real PyMC sampling."""

import duckdb
import pandas as pd
import pytest
from dagster import DagsterInstance, materialize

from assets import (
    auto_scores,
    human_labels,
    migration_decision,
    population_posterior,
    replay_fidelity,
    replay_responses,
    traffic_sample,
)
from assets.features import load_features
from assets.partitions import all_models_tags
from pipeline.demo import server as offline_server
from pipeline.demo import world
from resources import Artifacts, DataSources, ModelConfig, ModelRegistry, Warehouse

INCUMBENT, CANDIDATE = world.INCUMBENT, "candidate-a"
NO_BERTSCORE = {"auto_scores": {"config": {"bertscore": False}}}


def export(tmp_path, rows: int, seed: int, logged_share: float = 1.0):
    """A traffic export whose `response` column holds the incumbent's logged answers for a
    share of the requests, and a label file made on those answers."""
    traffic = world.generate_traffic(rows, seed)
    missing = traffic.sample(frac=1 - logged_share, random_state=seed).index
    traffic.loc[missing, ["response", "model"]] = None
    labels = world.generate_labels(traffic, 120, seed, bad_rows=False)
    labels = labels[labels["model"].isin([INCUMBENT, CANDIDATE])]
    traffic.to_parquet(tmp_path / "traffic.parquet")
    labels.to_csv(tmp_path / "labels.csv", index=False)
    return traffic


def resources(tmp_path, base_url: str, retired: bool = False):
    return {
        "warehouse": Warehouse(database=str(tmp_path / "w.duckdb")),
        "artifacts": Artifacts(root=str(tmp_path / "artifacts")),
        "sources": DataSources(traffic=str(tmp_path / "traffic.parquet"),
                               labels=str(tmp_path / "labels.csv")),
        "models": ModelRegistry(incumbent=INCUMBENT, models=[
            ModelConfig(name=INCUMBENT, provider="openai_compatible", model_id=INCUMBENT,
                        base_url=base_url, retired=retired),
            ModelConfig(name=CANDIDATE, provider="openai_compatible", model_id=CANDIDATE,
                        base_url=base_url),
        ]),
    }


def run(assets, res, run_config=None, raise_on_error=True, instance=None):
    instance = instance or DagsterInstance.ephemeral()
    if not instance.has_dynamic_partition("model", INCUMBENT):
        instance.add_dynamic_partitions("model", [INCUMBENT, CANDIDATE])
    return materialize(assets, resources=res, instance=instance,
                       run_config={"ops": run_config or {}},
                       tags=all_models_tags(instance), raise_on_error=raise_on_error)


def blocking_failures(result) -> list[str]:
    """The checks of the run that failed with ERROR severity."""
    return [e.check_name for e in result.get_asset_check_evaluations()
            if not e.passed and e.severity.value == "ERROR"]


def failure_message(result) -> str:
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    return failure.step_failure_data.error.message


@pytest.mark.slow  # a whole pipeline run with six fits (about 30 s): in `make test-slow`
def test_a_retired_incumbent_with_logged_answers_is_decided_on(tmp_path):
    """Its provider answers 404 for it, the registry does not yet say so, and production
    logged its answer to 90% of the requests: the run warns, never calls it again, and
    writes a decision for every dimension of the candidate."""
    export(tmp_path, 400, seed=3, logged_share=0.9)
    instance = DagsterInstance.ephemeral()
    with offline_server.serve(retired={INCUMBENT}) as server:
        result = run([traffic_sample, replay_responses, auto_scores, human_labels,
                      population_posterior, migration_decision],
                     resources(tmp_path, server.base_url), NO_BERTSCORE, instance=instance)
        served = server.requests
    assert result.success
    assert served == 400  # the candidate's answers; the incumbent got none (404s only)
    warnings = [log.user_message for log in instance.all_logs(result.run_id)
                if "is retired at its provider" in log.user_message]
    assert warnings and "mark it `retired: true`" in warnings[0]
    assert "360 logged answers are used; 40 of 400" in warnings[0]
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        sources = dict(conn.execute("SELECT source, count(*) FROM v_answers WHERE status = 'ok' "
                                    "GROUP BY ALL").fetchall())
        decisions = conn.execute("SELECT dimension, decision FROM decisions "
                                 "WHERE region IS NULL ORDER BY dimension").fetchall()
    assert sources == {"logged": 360, "replay": 400}
    assert [d for d, _ in decisions] == sorted(world.DIMENSIONS)
    assert all(decision != "fit_failed" for _, decision in decisions)


def test_a_retired_incumbent_without_logged_answers_fails_with_the_retirement(tmp_path):
    traffic = export(tmp_path, 30, seed=4, logged_share=0.0)
    assert traffic["response"].isna().all()
    with offline_server.serve(retired={INCUMBENT}) as server:
        result = run([traffic_sample, replay_responses], resources(tmp_path, server.base_url),
                     raise_on_error=False)
    assert not result.success
    message = failure_message(result)
    assert f"`{INCUMBENT}` is retired at its provider; mark it `retired: true`" in message
    assert "None of the 30 sampled requests has a logged answer" in message
    assert "check the API key" not in message


def test_a_model_marked_retired_is_never_called(tmp_path):
    export(tmp_path, 30, seed=4, logged_share=0.0)
    with offline_server.serve() as server:
        result = run([traffic_sample, replay_responses],
                     resources(tmp_path, server.base_url, retired=True), raise_on_error=False)
        served = server.requests
    assert not result.success and served == 30  # the candidate only
    assert ("is marked `retired: true`, but none of the 30 sampled requests has a logged "
            "answer") in failure_message(result)


def test_no_old_label_calibrates_a_refreshed_text(tmp_path):
    """Label, then refresh the candidate's replay with a model that now answers otherwise: its
    labels stay tied to the old text, so none enters the calibration, and a label file naming
    the old text is quarantined with the reason."""
    export(tmp_path, 60, seed=6)
    phases = {"text": "{}"}

    def answer(model, system, prompt):
        return phases["text"].format(offline_server.demo_answer(model, system, prompt))

    assets = [traffic_sample, replay_responses, auto_scores, human_labels]
    with offline_server.serve(answer=answer) as server:
        res = resources(tmp_path, server.base_url)
        assert run(assets, res, NO_BERTSCORE).success
        with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
            before = load_features(conn)
            old = dict(conn.execute("SELECT request_id, response_hash FROM v_answers "
                                    "WHERE model = ?", [CANDIDATE]).fetchall())
        phases["text"] = "{} (updated)"
        refresh = {**NO_BERTSCORE, "replay_responses": {"config": {"refresh": True}}}
        refreshed = run(assets, res, refresh, raise_on_error=False)
    # every label of the candidate judged a text that is gone: nothing can be fitted on it
    assert blocking_failures(refreshed) == ["labels_cover_every_slice"]
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        after = load_features(conn)
        stale = conn.execute("SELECT count(*) FROM human_labels l JOIN v_answers a "
                             "USING (request_id, model) WHERE l.model = ? AND "
                             "l.response_hash <> a.response_hash", [CANDIDATE]).fetchone()[0]
        rescored = conn.execute("SELECT count(*) FROM v_auto_scores_wide WHERE model = ?",
                                [CANDIDATE]).fetchone()[0]
    labelled = before[before["model"] == CANDIDATE]["human"].notna().sum()
    assert labelled > 0 and stale > 0
    assert after[after["model"] == CANDIDATE]["human"].notna().sum() == 0
    assert after[after["model"] == INCUMBENT]["human"].notna().sum() == \
        before[before["model"] == INCUMBENT]["human"].notna().sum()  # its logged text stands
    assert rescored == 60  # the new texts are scored anew

    labels = pd.read_csv(tmp_path / "labels.csv")
    labels = labels[labels["model"] == CANDIDATE].head(3)
    labels["response_hash"] = labels["request_id"].map(old)
    labels.to_csv(tmp_path / "labels.csv", index=False)
    with offline_server.serve(answer=answer) as server:
        again = run([human_labels], resources(tmp_path, server.base_url), raise_on_error=False)
    assert "label_files_valid" in blocking_failures(again)  # every row of it quarantined
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        reasons = [r for (r,) in conn.execute("SELECT reason FROM label_quarantine").fetchall()]
    assert len(reasons) == 3
    assert all("field response_hash" in r and "no longer the answer of record" in r
               for r in reasons)


def test_logged_answers_are_not_replayed_unless_asked(tmp_path):
    export(tmp_path, 20, seed=8)
    with offline_server.serve() as server:
        res = resources(tmp_path, server.base_url)
        assert run([traffic_sample, replay_responses], res).success
        assert server.requests == 20  # the candidate only
        asked = {"replay_responses": {"config": {"replay_logged": True}}}
        assert run([traffic_sample, replay_responses], res, asked).success
        assert server.requests == 40  # now the incumbent's, beside its logged answers
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        rows = dict(conn.execute("SELECT source, count(*) FROM responses WHERE model = ? "
                                 "GROUP BY ALL", [INCUMBENT]).fetchall())
        record = dict(conn.execute("SELECT source, count(*) FROM v_answers WHERE model = ? "
                                   "GROUP BY ALL", [INCUMBENT]).fetchall())
    assert rows == {"logged": 20, "replay": 20} and record == {"logged": 20}


def test_replay_fidelity_compares_the_replay_with_production(tmp_path):
    """Production sampled other words than the replay does (the demo world's `served`
    answers): the texts differ, the automated scores stay close, and the check warns once the
    texts must match more closely than they do."""
    export(tmp_path, 40, seed=9)
    replay_both = {"replay_responses": {"config": {"replay_logged": True}}}
    strict = {"replay_fidelity": {"config": {"min_text_similarity": 0.99}}}
    with offline_server.serve() as server:
        res = resources(tmp_path, server.base_url)
        assert run([traffic_sample, replay_responses], res, replay_both).success
        result = run([replay_fidelity], res, strict)
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.severity.value == "WARN"
    assert f"{INCUMBENT}: its replayed answers share a ROUGE-L F of" in check.description
    assert "system prompt version, temperature" in check.description
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        table = conn.execute("SELECT * FROM replay_fidelity WHERE region IS NULL").df()
        regions = conn.execute("SELECT count(DISTINCT region) FROM replay_fidelity").fetchone()[0]
    assert set(table["model"]) == {INCUMBENT} and set(table["dimension"]) == set(world.DIMENSIONS)
    assert (table["text_rouge_l"] < 0.99).all() and (table["text_rouge_l"] > 0.2).all()
    assert abs(table.set_index("dimension").loc["refusal", "difference"]) < 0.05  # same behaviour
    assert table.set_index("dimension").loc["refusal", "requests"] == 40
    assert regions > 2
    lenient = run([replay_fidelity], res, {"replay_fidelity": {"config": {
        "min_text_similarity": 0.0, "max_score_difference": 1.0}}})
    assert lenient.get_asset_check_evaluations()[0].passed
