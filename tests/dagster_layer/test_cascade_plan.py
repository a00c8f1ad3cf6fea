"""cascade_plan on small materializations: real HTTP to the loopback provider (log-probabilities
through the OpenAI SDK; a serving-time judge through the Anthropic SDK), a real DuckDB file,
labels from the demo world, the curve plotted into the metadata and the artifacts root."""

import base64
import re

import duckdb
import pytest
from dagster import DagsterInstance, materialize

from assets import cascade_plan, human_labels, replay_responses, traffic_sample
from assets.partitions import all_models_tags
from pipeline.demo import server as offline_server
from pipeline.demo import world
from pipeline.scoring.judge import SYSTEM_PROMPT
from resources import Artifacts, DataSources, ModelConfig, ModelRegistry, Warehouse

CHEAP, STRONG = "candidate-b", "candidate-a"
PNG = b"\x89PNG\r\n\x1a\n"


def _data(tmp_path, models, rows=150, labelled=90):
    traffic = world.generate_traffic(rows, seed=5, logged_model=None)
    traffic.to_parquet(tmp_path / "traffic.parquet")
    labels = world.generate_labels(traffic, labelled, seed=5, bad_rows=False)
    labels[labels["model"].isin(models)].to_csv(tmp_path / "labels.csv", index=False)
    return traffic


def _materialize(tmp_path, registry, partitions, config):
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("model", partitions)
    res = {"warehouse": Warehouse(database=str(tmp_path / "w.duckdb")),
           "sources": DataSources(traffic=str(tmp_path / "traffic.parquet"),
                                  labels=str(tmp_path / "labels.csv")),
           "models": registry, "artifacts": Artifacts(root=str(tmp_path / "artifacts"))}
    return materialize([traffic_sample, replay_responses, human_labels, cascade_plan],
                       resources=res, instance=instance, tags=all_models_tags(instance),
                       run_config={"ops": {"cascade_plan": {"config": config}}})


def _curves(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
        return conn.execute("SELECT * FROM cascade_curves ORDER BY point").df()


def _embedded_png(markdown: str) -> bytes:
    found = re.search(r"!\[[^\]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", markdown)
    assert found, "no inline PNG in the metadata"
    return base64.b64decode(found.group(1))


def test_cascade_plan_writes_cascade_curves_measured_held_out_and_plots_them(tmp_path):
    _data(tmp_path, [CHEAP, STRONG])
    with offline_server.serve() as server:
        registry = ModelRegistry(incumbent=STRONG, models=[
            ModelConfig(name=STRONG, provider="openai_compatible", model_id=STRONG,
                        base_url=server.base_url, price_in_per_mtok=5, price_out_per_mtok=20),
            ModelConfig(name=CHEAP, provider="openai_compatible", model_id=CHEAP,
                        base_url=server.base_url, price_in_per_mtok=1, price_out_per_mtok=4),
        ])
        result = _materialize(tmp_path, registry, [CHEAP, STRONG],
                              {"cascades": [[CHEAP, STRONG]], "folds": 4, "seed": 3})
    assert result.success
    curves = _curves(tmp_path)
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
        confident = conn.execute("SELECT count(*) FROM responses WHERE confidence IS NOT NULL "
                                 "AND model = ?", [CHEAP]).fetchone()[0]
    assert confident == 150
    assert len(curves) > 5 and set(curves["cascade"]) == {f"{CHEAP} > {STRONG}"}
    assert list(curves["models"].iloc[0]) == [CHEAP, STRONG]
    assert list(curves["confidence_sources"].iloc[0]) == ["log-probability", "log-probability"]
    assert curves["n_items"].iloc[0] > 40 and curves["run_id"].nunique() == 1
    assert curves["expected_error"].between(0, 1).all()
    # held out: 4 folds, seed 3, and figures of its own beside the in-sample ones
    assert set(curves["measured_on"]) == {
        "4-fold cross-validation (seed 3): each item through thresholds fitted on the other "
        "3 folds"}
    assert curves[["measured_error", "measured_cost", "in_sample_error",
                   "in_sample_cost"]].notna().all().all()
    assert (curves["measured_error"] != curves["in_sample_error"]).any()
    # more cost weight, less cost
    assert curves["expected_cost"].iloc[-1] <= curves["expected_cost"].iloc[0]
    metadata = result.asset_materializations_for_node("cascade_plan")[0].metadata
    assert metadata["dagster/row_count"].value == len(curves)
    shown = metadata[f"curve: {CHEAP} > {STRONG}"].value
    assert _embedded_png(shown).startswith(PNG) and "4-fold cross-validation" in shown
    plotted = metadata[f"plot: {CHEAP} > {STRONG}"].value
    assert plotted == str(tmp_path / "artifacts" / "cascade_plan" / "cascade-1.png")
    with open(plotted, "rb") as saved:
        assert saved.read() == _embedded_png(shown)
    assert (tmp_path / "artifacts" / "cascade_plan" / result.run_id / "cascade-1.png").exists()


def _grading_judge(traffic, judged_model, prompts_seen):
    """The demo models as the offline provider answers them, and a judge that grades an
    answer of ``judged_model`` by its true correctness in the demo world (reading only the
    rubric prompt's question and response, as a judge would)."""
    truth = {}
    for row in traffic.itertuples():
        answer = world.answer(judged_model, row.system, row.prompt)
        if answer.truth["correctness"] is not None:
            truth[(row.prompt, answer.text)] = answer.truth["correctness"]

    def answer(model, system, prompt):
        if system != SYSTEM_PROMPT:
            return offline_server.demo_answer(model, system, prompt)
        prompts_seen.append(prompt)
        question = re.search(r"<question>\n(.*?)\n</question>", prompt, re.DOTALL).group(1)
        response = re.search(r"<response>\n(.*?)\n</response>", prompt, re.DOTALL).group(1)
        grade = truth.get((question, response), 1.0)  # a refusal counts as no answer
        return f"Checked.\nSCORE: {int(min(5, max(1, round(grade))))}"
    return answer


def test_a_model_without_log_probabilities_gets_the_serving_time_judge_as_confidence(tmp_path):
    traffic = _data(tmp_path, [STRONG, CHEAP], rows=120, labelled=80)
    prompts = []
    with offline_server.serve(answer=_grading_judge(traffic, STRONG, prompts)) as server:
        registry = ModelRegistry(incumbent=CHEAP, anthropic_api_key="k", openai_api_key="k",
                                 models=[
            ModelConfig(name=STRONG, provider="anthropic", model_id=STRONG,
                        base_url=server.anthropic_base_url, price_in_per_mtok=1,
                        price_out_per_mtok=4),
            ModelConfig(name=CHEAP, provider="openai_compatible", model_id=CHEAP,
                        base_url=server.base_url, price_in_per_mtok=5, price_out_per_mtok=20),
            ModelConfig(name="judge", provider="anthropic", model_id="judge-1",
                        base_url=server.anthropic_base_url, price_in_per_mtok=3,
                        price_out_per_mtok=15, judge_only=True),
        ])
        # the Anthropic model first: only possible with a judge
        cascade = [STRONG, CHEAP]
        without = _materialize(tmp_path, registry, [STRONG, CHEAP], {"cascades": [cascade]})
        assert not prompts
        with_judge = _materialize(tmp_path, registry, [STRONG, CHEAP],
                                  {"cascades": [cascade], "judge_model": "judge"})
    skipped = without.asset_materializations_for_node("cascade_plan")[0].metadata["skipped"]
    assert "it can only be a cascade's last model" in skipped.value[f"{STRONG} > {CHEAP}"]
    metadata = with_judge.asset_materializations_for_node("cascade_plan")[0].metadata
    curves = _curves(tmp_path)
    items = int(curves["n_items"].iloc[0])
    assert metadata["judged_answers"].value == len(prompts) >= items > 30
    # the judge saw the question and the answer, never the reference
    assert all("(no reference answer)" in p for p in prompts)
    assert list(curves["confidence_sources"].iloc[0]) == ["judge", "log-probability"]
    # thresholds on the judge's 0-1 grade, and the judge's price in the first model's cost
    first_threshold = curves["thresholds"].map(lambda t: t[0])
    assert first_threshold[first_threshold.abs() < 10].between(0, 1).all()
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
        alone = conn.execute("SELECT avg(cost_usd) FROM v_answers WHERE model = ?",
                             [STRONG]).fetchone()[0]
    assert curves["expected_cost"].min() > alone
    # alone, a model needs no judge: the best single model's cost is its answers' own
    best = curves.iloc[0]
    assert best["best_single_model"] == STRONG
    assert best["best_single_cost"] == pytest.approx(alone, rel=0.2)
    assert best["best_single_cost"] < 0.5 * curves["expected_cost"].min()
    assert "judge" in metadata[f"curve: {STRONG} > {CHEAP}"].value


def test_no_pipeline_job_runs_the_opt_in_cascade_plan_and_cascade_job_runs_it_alone():
    from assets.definitions import definitions

    defs = definitions()
    assert "cascade_plan" in {key.to_user_string()
                              for key in defs.resolve_asset_graph().get_all_asset_keys()}
    for job in ("migration_job", "recalibration_job", "replay_and_score_job"):
        keys = {key.to_user_string()
                for key in defs.resolve_job_def(job).asset_layer.selected_asset_keys}
        assert "cascade_plan" not in keys, job
        assert job == "replay_and_score_job" or "migration_decision" in keys, job
    on_request = defs.resolve_job_def("cascade_job").asset_layer.selected_asset_keys
    assert {key.to_user_string() for key in on_request} == {"cascade_plan"}

