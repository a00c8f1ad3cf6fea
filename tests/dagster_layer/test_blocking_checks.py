"""The blocking checks on the inputs of a fit: a label file that is mostly malformed, a slice
without the labels the paired model needs, a model whose replay fails. Each fails on purpose,
says why and what to do, and no score, fit or verdict follows. Real DuckDB file, real HTTP to
the offline provider through the official SDKs, real Dagster materializations (the sampler
is never reached: the checks stop the run before it). The starved fit is in
test_pipeline_e2e.py."""

import duckdb
import pandas as pd
from dagster import DagsterInstance, materialize

from assets import (
    auto_scores,
    calibration_drift,
    human_labels,
    migration_decision,
    population_posterior,
    replay_responses,
    traffic_sample,
)
from assets.partitions import all_models_tags, ensure_model_partitions
from pipeline import config as settings
from pipeline.demo import server as offline_server
from pipeline.demo import world
from resources import Artifacts, DataSources, ModelConfig, ModelRegistry, Warehouse

ASSETS = [traffic_sample, replay_responses, auto_scores, human_labels, calibration_drift,
          population_posterior, migration_decision]
RUN_CONFIG = {"ops": {"auto_scores": {"config": {"bertscore": False}}}}
ROWS, SEED = 150, 21


def demo_traffic():
    return world.generate_traffic(ROWS, seed=SEED)


def labels_for(traffic) -> pd.DataFrame:
    return world.generate_labels(traffic, 80, seed=SEED, bad_rows=False)


def run(tmp_path, labels: pd.DataFrame, models: ModelRegistry | None = None, assets=ASSETS):
    demo_traffic().to_parquet(tmp_path / "traffic.parquet")
    labels.to_csv(tmp_path / "labels.csv", index=False)
    resources = {
        "warehouse": Warehouse(database=str(tmp_path / "w.duckdb")),
        "artifacts": Artifacts(root=str(tmp_path / "artifacts")),
        "models": models or ModelRegistry.from_file(settings.DEMO_REGISTRY),
        "sources": DataSources(traffic=str(tmp_path / "traffic.parquet"),
                               labels=str(tmp_path / "labels.csv")),
    }
    instance = DagsterInstance.ephemeral()
    ensure_model_partitions(instance, resources["models"].names())
    result = materialize(assets, resources=resources, run_config=RUN_CONFIG, instance=instance,
                         tags=all_models_tags(instance), raise_on_error=False)
    result.logged_errors = [log.user_message for log in instance.all_logs(result.run_id)
                            if log.level >= 40]  # ERROR: what the console of a run shows
    return result


def errors(result) -> list[str]:
    return result.logged_errors


def evaluation(result, name: str):
    (found,) = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return found


def materialized(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.all_events
            if e.event_type_value == "ASSET_MATERIALIZATION"}


def no_decision(tmp_path) -> bool:
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
        return conn.execute("SELECT count(*) FROM decisions").fetchone()[0] == 0 and \
            conn.execute("SELECT count(*) FROM v_migration_verdict").fetchone()[0] == 0


def test_a_mostly_malformed_label_file_blocks_every_fit(tmp_path):
    labels = labels_for(demo_traffic())
    broken = labels.sample(frac=0.7, random_state=1).index
    labels.loc[broken, "score"] = "n/a"  # e.g. an export with the wrong column as the score
    result = run(tmp_path, labels)
    check = evaluation(result, "label_files_valid")
    assert not result.success and not check.passed and check.severity.value == "ERROR"
    assert f"{tmp_path / 'labels.csv'}: {len(broken)} of {len(labels)} rows quarantined (70%)" \
        in check.description
    assert "above max_quarantined_share 25%" in check.description
    assert "read the reasons in table label_quarantine" in check.description
    assert materialized(result) == {"traffic_sample", "replay_responses", "auto_scores",
                                    "human_labels"}  # nothing after the labels
    assert no_decision(tmp_path)


def test_a_few_malformed_rows_warn_and_are_left_out(tmp_path):
    labels = labels_for(demo_traffic())
    labels.loc[labels.sample(frac=0.1, random_state=2).index, "model"] = "gpt-unknown"
    result = run(tmp_path, labels, assets=ASSETS[:5])  # up to the drift check: no fit needed
    check = evaluation(result, "label_files_valid")
    assert result.success and not check.passed and check.severity.value == "WARN"
    assert "above warn_quarantined_share 5%; the other rows are used" in check.description
    assert "calibration_drift" in materialized(result)


def test_a_region_without_paired_labels_blocks_every_fit(tmp_path):
    traffic = demo_traffic()
    labels = labels_for(traffic)
    in_de = labels["request_id"].isin(traffic.loc[traffic["region"] == "de", "request_id"])
    labels = labels[~(in_de & (labels["model"] == "candidate-b")
                      & (labels["dimension"] == "correctness"))]
    result = run(tmp_path, labels)
    check = evaluation(result, "labels_cover_every_slice")
    assert not result.success and not check.passed and check.severity.value == "ERROR"
    assert check.description.startswith("'candidate-b' on correctness in region 'de': 0 of ")
    assert "needs at least 1 per region" in check.description
    assert "for both the candidate and the incumbent 'incumbent-v1'" in check.description
    assert evaluation(result, "label_files_valid").passed
    assert "population_posterior" not in materialized(result)
    assert any(m.startswith("labels_cover_every_slice: 'candidate-b' on correctness")
               for m in errors(result))
    assert no_decision(tmp_path)


def test_a_model_whose_replay_fails_blocks_its_scores(tmp_path):
    """candidate-b's provider answers every request with a 400 no retry can fix."""
    refusing = offline_server.Fault("bad_request", times=10)
    with offline_server.serve() as healthy, offline_server.serve(fault=refusing) as broken:
        models = ModelRegistry(incumbent="incumbent-v1", anthropic_api_key="test", models=[
            ModelConfig(name="incumbent-v1", provider="openai", model_id="incumbent-v1",
                        retired=True),
            ModelConfig(name="candidate-a", provider="anthropic", model_id="candidate-a",
                        base_url=healthy.anthropic_base_url),
            ModelConfig(name="candidate-b", provider="openai_compatible",
                        model_id="candidate-b", base_url=broken.base_url)])
        result = run(tmp_path, labels_for(demo_traffic()), models)
    check = evaluation(result, "replay_succeeded")
    assert not result.success and not check.passed and check.severity.value == "ERROR"
    assert check.description.startswith(
        f"'candidate-b': {ROWS} of {ROWS} requests failed (100%), e.g. BadRequestError")
    assert "'candidate-a'" not in check.description  # its replay is fine
    assert "Check the model's registry entry" in check.description
    assert materialized(result) == {"traffic_sample", "replay_responses"}
    assert any(m.startswith("replay_succeeded: 'candidate-b': ") for m in errors(result))
    assert no_decision(tmp_path)
