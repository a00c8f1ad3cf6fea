"""cascade_plan on a small materialize: real HTTP to the loopback provider (log-probabilities
through the OpenAI SDK), a real DuckDB file, labels from the demo world."""

import duckdb
from dagster import DagsterInstance, materialize

from assets import cascade_plan, human_labels, replay_responses, traffic_sample
from assets.partitions import all_models_tags
from pipeline.demo import server as offline_server
from pipeline.demo import world
from resources import DataSources, ModelConfig, ModelRegistry, Warehouse

CHEAP, STRONG = "candidate-b", "candidate-a"


def test_cascade_plan_writes_cascade_curves(tmp_path):
    traffic = world.generate_traffic(150, seed=5, logged_model=None)
    traffic.to_parquet(tmp_path / "traffic.parquet")
    labels = world.generate_labels(traffic, 90, seed=5, bad_rows=False)
    labels[labels["model"].isin([CHEAP, STRONG])].to_csv(tmp_path / "labels.csv", index=False)
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("model", [CHEAP, STRONG])
    with offline_server.serve() as server:
        registry = ModelRegistry(incumbent=STRONG, models=[
            ModelConfig(name=STRONG, provider="openai_compatible", model_id=STRONG,
                        base_url=server.base_url, price_in_per_mtok=5, price_out_per_mtok=20),
            ModelConfig(name=CHEAP, provider="openai_compatible", model_id=CHEAP,
                        base_url=server.base_url, price_in_per_mtok=1, price_out_per_mtok=4),
        ])
        res = {"warehouse": Warehouse(database=str(tmp_path / "w.duckdb")),
               "sources": DataSources(traffic=str(tmp_path / "traffic.parquet"),
                                      labels=str(tmp_path / "labels.csv")),
               "models": registry}
        result = materialize(
            [traffic_sample, replay_responses, human_labels, cascade_plan], resources=res,
            instance=instance, tags=all_models_tags(instance),
            run_config={"ops": {"cascade_plan": {"config": {
                "cascades": [f"{CHEAP},{STRONG}"]}}}})
    assert result.success
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
        curves = conn.execute("SELECT * FROM cascade_curves ORDER BY point").df()
        confident = conn.execute("SELECT count(*) FROM responses WHERE confidence IS NOT NULL "
                                 "AND model = ?", [CHEAP]).fetchone()[0]
    assert confident == 150
    assert len(curves) > 5 and set(curves["cascade"]) == {f"{CHEAP} > {STRONG}"}
    assert list(curves["models"].iloc[0]) == [CHEAP, STRONG]
    assert curves["n_items"].iloc[0] > 40 and curves["run_id"].nunique() == 1
    assert curves["expected_error"].between(0, 1).all()
    assert curves["measured_cost"].notna().all()
    # more cost weight, less cost
    assert curves["expected_cost"].iloc[-1] <= curves["expected_cost"].iloc[0]
    metadata = result.asset_materializations_for_node("cascade_plan")[0].metadata
    assert metadata["dagster/row_count"].value == len(curves)
    assert f"curve: {CHEAP} > {STRONG}" in metadata


def test_no_pipeline_job_runs_the_opt_in_cascade_plan():
    from assets.definitions import definitions

    defs = definitions()
    assert "cascade_plan" in {key.to_user_string()
                              for key in defs.resolve_asset_graph().get_all_asset_keys()}
    for job in ("migration_job", "recalibration_job", "replay_and_score_job"):
        keys = {key.to_user_string()
                for key in defs.resolve_job_def(job).asset_layer.selected_asset_keys}
        assert "cascade_plan" not in keys, job
        assert job == "replay_and_score_job" or "migration_decision" in keys, job
