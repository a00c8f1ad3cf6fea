"""The traffic_sample asset on a partitioned export, materialized by Dagster: exactly the
sample asked, in proportion to the regions, and only the sampled requests redacted."""

import importlib

import duckdb
import pytest
from dagster import materialize

from assets import traffic_sample
from pipeline.data.traffic import allocate
from pipeline.demo import world
from pipeline.replay.redaction import Redactor
from resources import DataSources, Warehouse

ADDRESS = "write to jane.doe@example.com"


@pytest.fixture
def export(tmp_path):
    """300 requests with an e-mail address in every prompt, one Parquet file per day."""
    traffic = world.generate_traffic(300, seed=11)
    traffic["prompt"] = traffic["prompt"] + " " + ADDRESS
    for day, part in traffic.groupby(traffic["ts"].dt.strftime("%Y-%m-%d")):
        folder = tmp_path / "export" / f"day={day}"
        folder.mkdir(parents=True)
        part.to_parquet(folder / "traffic.parquet")
    return traffic, str(tmp_path / "export" / "day=*" / "*.parquet")


def test_the_asset_samples_exactly_and_redacts_only_the_sample(tmp_path, monkeypatch, export,
                                                               demo_models):
    traffic, source = export
    seen: list[str] = []

    class CountingRedactor(Redactor):
        def __call__(self, text):
            seen.append(text)
            return super().__call__(text)

    module = importlib.import_module("assets.traffic_sample")
    monkeypatch.setattr(module, "Redactor", CountingRedactor)
    database = tmp_path / "w.duckdb"
    result = materialize(
        [traffic_sample],
        resources={"sources": DataSources(traffic=source),
                   "warehouse": Warehouse(database=str(database)), "models": demo_models},
        run_config={"ops": {"traffic_sample": {"config": {"sample_size": 40, "seed": 3}}}})
    meta = result.asset_materializations_for_node("traffic_sample")[0].metadata
    population = traffic["region"].value_counts().to_dict()
    assert meta["sampled"].value == 40 and meta["source_requests"].value == 300
    assert meta["by_region"].value == dict(sorted(allocate(population, 40).items()))
    assert meta["redactions"].value["email"] == 40
    with duckdb.connect(str(database), read_only=True) as conn:
        stored = dict(conn.execute("SELECT request_id, prompt FROM traffic").fetchall())
    assert len(stored) == 40 and all(ADDRESS not in prompt for prompt in stored.values())
    sampled = traffic[traffic["request_id"].isin(stored)]
    # the redactor saw the sampled requests' texts and nothing of the other 260
    assert {text for text in seen if isinstance(text, str) and ADDRESS in text} == \
        set(sampled["prompt"])
    unsampled = set(traffic.loc[~traffic["request_id"].isin(stored), "prompt"])
    assert not unsampled & set(seen)
