"""A batch of label files (a glob) goes in whole or not at all: a file that cannot be read
fails the run naming it, and nothing of the batch is ingested; quarantine keeps only the
label columns, redacted. Real HTTP to the loopback provider, a real DuckDB file, real
Dagster materializations."""

import json

import duckdb
from dagster import DagsterInstance, materialize

from assets import human_labels, replay_responses, traffic_sample
from assets.partitions import all_models_tags
from pipeline.demo import server as offline_server
from pipeline.demo import world
from resources import DataSources, ModelConfig, ModelRegistry, Warehouse

INCUMBENT, CANDIDATE = world.INCUMBENT, "candidate-a"


def run(tmp_path, base_url, instance):
    resources = {
        "warehouse": Warehouse(database=str(tmp_path / "w.duckdb")),
        "sources": DataSources(traffic=str(tmp_path / "traffic.parquet"),
                               labels=str(tmp_path / "labels" / "*.csv")),
        "models": ModelRegistry(incumbent=INCUMBENT, models=[
            ModelConfig(name=name, provider="openai_compatible", model_id=name, base_url=base_url)
            for name in (INCUMBENT, CANDIDATE)]),
    }
    return materialize([traffic_sample, replay_responses, human_labels], resources=resources,
                       instance=instance, tags=all_models_tags(instance), raise_on_error=False)


def label_rows(tmp_path) -> dict[str, int]:
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
        return dict(conn.execute("SELECT source, count(*) FROM human_labels GROUP BY ALL")
                    .fetchall())


def test_a_label_batch_is_ingested_whole_or_not_at_all(tmp_path):
    traffic = world.generate_traffic(30, seed=2)
    traffic.to_parquet(tmp_path / "traffic.parquet")
    labels = world.generate_labels(traffic, 20, seed=2, bad_rows=False)
    labels = labels[labels["model"].isin([INCUMBENT, CANDIDATE])]
    folder = tmp_path / "labels"
    folder.mkdir()
    half = len(labels) // 2
    labels.iloc[:half].to_csv(folder / "a.csv", index=False)
    # b.csv: a bad row whose extra columns carry personal data; c.csv cannot be used at all
    bad = labels.iloc[half:].assign(comment="", reviewer_email="")
    bad.iloc[0, bad.columns.get_loc("score")] = "ring me: jane.doe@example.com"
    bad.iloc[0, bad.columns.get_loc("comment")] = "card 4111 1111 1111 1111"
    bad.iloc[0, bad.columns.get_loc("reviewer_email")] = "rev@example.com"
    bad.to_csv(folder / "b.csv", index=False)
    labels.iloc[:3].drop(columns="score").to_csv(folder / "c.csv", index=False)
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("model", [INCUMBENT, CANDIDATE])
    with offline_server.serve() as server:
        failed = run(tmp_path, server.base_url, instance)
        assert not failed.success
        failure = next(e for e in failed.all_events if e.event_type_value == "STEP_FAILURE")
        message = failure.step_failure_data.error.to_string()
        assert "c.csv: missing required column(s) ['score']" in message
        assert "no label file of this batch was ingested" in message
        assert label_rows(tmp_path) == {}  # a.csv and b.csv, read before it, are not in
        (folder / "c.csv").unlink()
        fixed = run(tmp_path, server.base_url, instance)
    assert fixed.success
    assert label_rows(tmp_path) == {str(folder / "a.csv"): half,
                                    str(folder / "b.csv"): len(labels) - half - 1}
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
        [(field, reason, raw)] = conn.execute(
            "SELECT field, reason, raw FROM label_quarantine").fetchall()
    assert field == "score" and reason.startswith(f"{folder / 'b.csv'}, row 1, field score")
    assert reason.endswith("(columns not kept: comment, reviewer_email)")
    assert "[EMAIL" in reason and "example.com" not in reason + raw  # a placeholder
    assert set(json.loads(raw)) == {"request_id", "model", "dimension", "annotator", "score",
                                    "labeled_at"}
    assert "4111" not in raw and "rev@" not in raw
