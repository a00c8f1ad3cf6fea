"""Names are data, never syntax (#22 item 4), through a real pipeline run: regions, models and
annotators named with '/', '|', quotes, newlines, markdown and 'ALL' (hypothesis draws the
regions' names from arbitrary Unicode, one example besides the explicit one; three runs) go through
replay, scoring, labels, the paired fit, drift, the decision and the label queue, and the
calibration fit; the all-traffic rows are region NULL, a region called ALL is one region among
others, and the markdown in Dagster's metadata keeps its columns. The loopback provider, a
real DuckDB file, real PyMC sampling with tiny settings."""

import duckdb
import numpy as np
import pytest
from dagster import DagsterInstance, materialize
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from assets import (
    auto_scores,
    calibration_drift,
    human_labels,
    label_queue,
    migration_decision,
    population_posterior,
    replay_responses,
    traffic_sample,
)
from assets.partitions import all_models_tags
from pipeline.data.markdown import escape_cell
from pipeline.demo import server as offline_server
from pipeline.demo import world
from resources import Artifacts, DataSources, ModelConfig, ModelRegistry, Warehouse

INCUMBENT = "org/incumbent"
CANDIDATE = "org/cand|idate 'b' \"q\" `x` *y*"
ANNOTATORS = ["ALL", "ann/1", "a|b", "O'Brien", "new\nline", "<b>bold</b>"]
FIXED_REGIONS = ["ALL", "eu/west", "a|b", "O'Brien \"q\"", "new\nline", "[x](y) *z*"]
TINY = {"draws": 1000, "tune": 1000, "chains": 2}  # enough for fits_converged


def write_inputs(tmp_path, regions: list[str]) -> None:
    traffic = world.generate_traffic(240, 5)
    labels = world.generate_labels(traffic, 60, 5, bad_rows=False)
    labels = labels[labels["model"].isin([world.INCUMBENT, "candidate-a"])].copy()
    rename = dict(zip(sorted(world.REGION_LANGUAGE), regions))
    models = {world.INCUMBENT: INCUMBENT, "candidate-a": CANDIDATE}
    traffic["region"] = traffic["region"].map(rename)
    traffic["model"] = traffic["model"].map(models)  # production's logged answers
    labels["model"] = labels["model"].map(models)
    labels["annotator"] = [ANNOTATORS[i % len(ANNOTATORS)] for i in range(len(labels))]
    traffic.to_parquet(tmp_path / "traffic.parquet")
    labels.to_csv(tmp_path / "labels.csv", index=False)


def resources(tmp_path, base_url):
    return {
        "warehouse": Warehouse(database=str(tmp_path / "w.duckdb")),
        "artifacts": Artifacts(root=str(tmp_path / "artifacts")),
        "sources": DataSources(traffic=str(tmp_path / "traffic.parquet"),
                               labels=str(tmp_path / "labels.csv")),
        "models": ModelRegistry(incumbent=INCUMBENT, models=[
            ModelConfig(name=INCUMBENT, provider="openai_compatible",
                        model_id=world.INCUMBENT, base_url=base_url),
            ModelConfig(name=CANDIDATE, provider="openai_compatible", model_id="candidate-a",
                        base_url=base_url),
        ]),
    }


def cells(line: str) -> list[str]:
    """A markdown table row's cells, split on the pipes markdown reads as separators."""
    parts, current, escaped = [], "", False
    for char in line.strip()[1:-1]:
        if char == "|" and not escaped:
            parts.append(current)
            current = ""
        else:
            current += char
        escaped = char == "\\" and not escaped
    return [*parts, current]


def assert_table_keeps_its_columns(markdown: str, rows: int) -> None:
    lines = markdown.splitlines()
    assert len(lines) == 2 + rows
    assert len({len(cells(line)) for line in lines}) == 1, markdown


region_names = st.lists(
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=10).filter(lambda s: s.strip())
    .map(lambda s: s.strip()), min_size=6, max_size=6, unique=True)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:The recursion limit")
@settings(max_examples=1, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@example(regions=FIXED_REGIONS)
@given(regions=region_names)
def test_names_are_data_through_the_pipeline(tmp_path_factory, regions):
    tmp_path = tmp_path_factory.mktemp("names")
    write_inputs(tmp_path, regions)
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("model", [INCUMBENT, CANDIDATE])
    run_config = {"auto_scores": {"config": {"bertscore": False}},
                  "population_posterior": {"config": TINY}}
    with offline_server.serve() as server:
        res = resources(tmp_path, server.base_url)
        result = materialize(
            [traffic_sample, replay_responses, auto_scores, human_labels, population_posterior,
             calibration_drift, migration_decision, label_queue],
            resources=res, instance=instance, run_config={"ops": run_config},
            tags=all_models_tags(instance))
    assert result.success
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
        assert {a for (a,) in conn.execute("SELECT DISTINCT annotator FROM human_labels")
                .fetchall()} == set(ANNOTATORS)
        decided = conn.execute("SELECT dimension, region, delta_mean FROM decisions").fetchall()
        drift = {r for (r,) in conn.execute("SELECT DISTINCT region FROM drift_status")
                 .fetchall()}
    # one all-traffic row per dimension (region NULL), and one row per region, 'ALL' included
    assert sorted(d for d, r, _ in decided if r is None) == sorted(world.DIMENSIONS)
    assert {r for _, r, _ in decided} == {None, *regions}
    assert drift == {None, *regions}
    markdown = result.asset_materializations_for_node("migration_decision")[0] \
        .metadata["decisions"].value
    assert_table_keeps_its_columns(markdown, rows=len(world.DIMENSIONS))
    assert all(cells(line)[0].strip() == escape_cell(CANDIDATE)
               for line in markdown.splitlines()[2:])

    if regions != FIXED_REGIONS:
        return  # the calibration fit once (the explicit example): three runs in all
    # the unpaired calibration: its cells keyed by (region, model), '/' in names included
    with offline_server.serve() as server:
        again = materialize(
            [population_posterior], resources=resources(tmp_path, server.base_url),
            instance=instance,
            run_config={"ops": {"population_posterior": {"config": {
                "method": "calibration", **TINY}}}})
    assert again.success
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
        offsets = conn.execute("SELECT DISTINCT region, model FROM calibration_summary "
                               "WHERE parameter = 'region_offset'").fetchall()
        deltas = conn.execute("SELECT dimension, region, avg(delta) FROM delta_draws "
                              "GROUP BY ALL").fetchall()
    assert set(offsets) == {(r, CANDIDATE) for r in regions}
    for dimension in world.DIMENSIONS:
        by_region = [m for d, r, m in deltas if d == dimension and r is not None]
        overall = [m for d, r, m in deltas if d == dimension and r is None]
        if by_region:  # the traffic-weighted total lies among the regions' values
            assert len(overall) == 1
            assert min(by_region) - 1e-9 <= overall[0] <= max(by_region) + 1e-9
    assert np.isfinite([m for *_, m in deltas]).all()
