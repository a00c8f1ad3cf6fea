"""The drift monitor in the pipeline: its history tables, and the blocking check that keeps a
drifted calibration from reaching a decision. Real DuckDB file, real HTTP to the offline
provider, real Dagster materializations."""

import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest
from dagster import DagsterInstance, materialize

from assets import (
    auto_scores,
    calibration_drift,
    human_labels,
    migration_decision,
    replay_responses,
    traffic_sample,
)
from assets.partitions import all_models_tags, ensure_model_partitions
from pipeline import config as settings
from pipeline.demo import world
from resources import DataSources, ModelRegistry, Warehouse

SCORED = [traffic_sample, replay_responses, auto_scores]
LABELLED = [human_labels, calibration_drift, migration_decision]
RUN_CONFIG = {"ops": {"auto_scores": {"config": {"bertscore": False}}}}


def _materialize(folder, assets, labels: pd.DataFrame, run_config=None):
    labels.to_csv(folder / "labels.csv", index=False)
    resources = {
        "warehouse": Warehouse(database=str(folder / "w.duckdb")),
        "models": ModelRegistry.from_file(settings.DEMO_REGISTRY),
        "sources": DataSources(traffic=str(folder / "traffic.parquet"),
                               labels=str(folder / "labels.csv")),
    }
    instance = DagsterInstance.ephemeral()
    ensure_model_partitions(instance, resources["models"].names())
    return materialize(assets, resources=resources, run_config=run_config, instance=instance,
                       tags=all_models_tags(instance), raise_on_error=False)


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """A warehouse with the traffic, its replies and their automated scores, made once: every
    test starts from a copy and runs the label side of the graph on it."""
    folder = tmp_path_factory.mktemp("scored")
    world.generate_traffic(400, seed=12).to_parquet(folder / "traffic.parquet")
    assert _materialize(folder, SCORED, demo_labels(), RUN_CONFIG).success
    return folder


def run(tmp_path, labels: pd.DataFrame, scored):
    """Labels, drift check and decision on ``tmp_path``'s warehouse, copied from ``scored`` on
    the first run."""
    if not (tmp_path / "w.duckdb").exists():
        for path in [*scored.glob("w.duckdb*"), scored / "traffic.parquet"]:
            shutil.copy(path, tmp_path / path.name)
    return _materialize(tmp_path, LABELLED, labels), str(tmp_path / "w.duckdb")


def demo_labels():
    return world.generate_labels(world.generate_traffic(400, seed=12), 200, seed=12,
                                 bad_rows=False)


def check_of(result):
    (evaluation,) = [e for e in result.get_asset_check_evaluations()
                     if e.check_name == "calibration_holds"]
    return evaluation


def test_drift_free_labels_pass_and_leave_a_history(tmp_path, scored):
    result, database = run(tmp_path, demo_labels(), scored)
    check = check_of(result)
    assert check.passed, check.description
    assert result.success  # the decision ran (with nothing to decide: no posterior here)
    with duckdb.connect(database) as conn:
        status = conn.execute("SELECT * FROM v_drift_status").df()
        path = conn.execute("SELECT count(*), max(statistic / threshold) FROM drift_statistics "
                            "WHERE region IS NULL").fetchone()
    slices = {(c, d) for c, d in zip(status["candidate"], status["dimension"])}
    assert slices == {(c, d) for c in ("candidate-a", "candidate-b") for d in world.DIMENSIONS}
    assert set(status["region"].replace({np.nan: None})) == {None, *world.REGION_LANGUAGE}
    assert not status["alarm"].any() and (status["n_stream"] > 0).all()
    assert np.isclose(status.loc[status["region"].isna(), "alpha"].sum(), 0.05 / 2)
    assert path[0] > 0 and path[1] < 1


def test_a_drifted_calibration_blocks_the_decision(tmp_path, scored):
    """After the middle of the labelling, candidate-a's answers are judged far worse than
    before while its automated scores are unchanged (an update the metric cannot see)."""
    labels = demo_labels()
    when = pd.to_datetime(labels["labeled_at"])
    later = (labels["model"] == "candidate-a") & (labels["dimension"] == "correctness") \
        & (when > when.quantile(0.6))
    labels.loc[later, "score"] = "1"
    result, database = run(tmp_path, labels, scored)
    check = check_of(result)
    assert not check.passed
    assert "'candidate-a' on correctness, all traffic: the calibration drifted at the label of" in \
        check.description
    assert "No decision is written on a drifted calibration" in check.description
    decided = [e for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"
               and e.asset_key.to_user_string() == "migration_decision"]
    assert decided == []
    with duckdb.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM decisions").fetchone()[0] == 0
        alarmed = conn.execute("SELECT candidate, dimension, drifted FROM v_drift_status "
                               "WHERE alarm AND region IS NULL").fetchall()
    assert [(c, d) for c, d, _ in alarmed] == [("candidate-a", "correctness")]

    # The next check restarts the calibration at the change: the candidate's labels before it
    # leave the fits, and the labels since then hold together.
    again, _ = run(tmp_path, labels, scored)
    assert check_of(again).passed, check_of(again).description
    with duckdb.connect(database) as conn:
        (restart,) = conn.execute("SELECT max(alarm_at) FROM drift_status WHERE alarm"
                                  ).fetchone()
        before, after = conn.execute(
            "SELECT count(*) FILTER (WHERE labeled_at <= ?), count(*) FILTER (WHERE labeled_at > ?)"
            " FROM v_fit_labels WHERE model = 'candidate-a' AND dimension = 'correctness'",
            [restart, restart]).fetchone()
        kept = conn.execute("SELECT count(*) FROM v_fit_labels WHERE model = 'candidate-b' "
                            "AND dimension = 'correctness'").fetchone()[0]
    assert before == 0 and after > 0
    assert kept == int(((labels["model"] == "candidate-b")
                        & (labels["dimension"] == "correctness")).sum())


def test_new_label_files_start_a_recalibration(tmp_path):
    from dagster import RunRequest, SkipReason, build_sensor_context

    from assets.jobs import label_files_sensor, recalibration_job

    folder = tmp_path / "exports"
    folder.mkdir()
    sources = {"sources": DataSources(labels=str(folder / "*.csv"))}

    def tick(cursor):
        context = build_sensor_context(cursor=cursor, resources=sources)
        return label_files_sensor(context), context.cursor

    result, cursor = tick(None)
    assert isinstance(result, SkipReason)
    (folder / "week-1.csv").write_text("request_id,model,dimension,annotator,score,labeled_at\n")
    result, cursor = tick(cursor)
    assert isinstance(result, RunRequest) and label_files_sensor.job_name == recalibration_job.name
    result, cursor = tick(cursor)
    assert isinstance(result, SkipReason)  # nothing new
    (folder / "week-2.csv").write_text("request_id,model,dimension,annotator,score,labeled_at\n")
    second, cursor = tick(cursor)
    assert isinstance(second, RunRequest)
    demo = build_sensor_context(resources={"sources": DataSources()})
    assert isinstance(label_files_sensor(demo), SkipReason)


def test_reading_the_same_label_file_twice_changes_nothing(tmp_path, scored):
    labels = demo_labels()
    second_opinion = labels[labels["dimension"] == "style"].head(60).assign(annotator="second")
    labels = pd.concat([labels, second_opinion], ignore_index=True)
    result, _ = run(tmp_path, labels, scored)
    meta = result.asset_materializations_for_node("human_labels")[0].metadata
    agreement = meta["annotator_agreement"].value["style"]
    assert agreement["responses_with_several_labels"] == 60
    assert agreement["krippendorff_alpha"] == 1.0  # the second annotator copied the first
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        first = conn.execute("SELECT * EXCLUDE (source) FROM human_labels ORDER BY ALL").df()
    run(tmp_path, labels, scored)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        second = conn.execute("SELECT * EXCLUDE (source) FROM human_labels ORDER BY ALL").df()
    pd.testing.assert_frame_equal(first, second)
