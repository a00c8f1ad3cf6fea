"""`llm-migrate demo --cascade`'s scenario on a small demo world: cascade_job materializes the
opt-in cascade_plan (a real Dagster run in the instance the UI shows, real HTTP to the loopback
provider before it, a real DuckDB file), and the command prints the thresholds it chose, what
they measured held out, and where the curve's plot is."""

import re
from pathlib import Path

from dagster import materialize

from assets import human_labels, replay_responses, traffic_sample
from assets.partitions import all_models_tags
from resources import DataSources, Warehouse


def test_the_demo_cascade_materializes_the_plan_and_shows_its_curve(tmp_path, dagster_home,
                                                                     demo_models, capsys):
    from assets.definitions import definitions
    from pipeline.cli.cascade_scenario import run_cascade_scenario
    from pipeline.cli.run import dagster_instance

    database = str(tmp_path / "w.duckdb")
    defs = definitions(warehouse=Warehouse(database=database), models=demo_models,
                       sources=DataSources(demo_dir=str(tmp_path / "demo"), demo_rows=120,
                                           demo_labels_per_dimension=80, demo_seed=7))
    instance = dagster_instance()
    instance.add_dynamic_partitions("model", demo_models.names())
    assert materialize([traffic_sample, replay_responses, human_labels], instance=instance,
                       resources=defs.resources, tags=all_models_tags(instance)).success
    capsys.readouterr()
    assert run_cascade_scenario(defs, database) == 0
    out = capsys.readouterr().out
    # the demo's candidates, cheapest first; candidate-a (Anthropic) has no log-probabilities
    assert "Cascade candidate-b > candidate-a on " in out
    assert "(confidence: candidate-b: log-probability, candidate-a: none)" in out
    assert "Measured held out: 5-fold cross-validation (seed 0)" in out
    header = next(line for line in out.splitlines() if "cost_weight" in line)
    assert header.split() == ["cost_weight", "thresholds", "expected_error", "expected_cost",
                              "measured_error", "measured_cost"]
    assert "-inf (answers all)" in out  # the cheapest end of the curve
    plot = Path(re.search(r"Plot of the curve: (\S+)", out).group(1))
    assert plot.read_bytes().startswith(b"\x89PNG")
    runs = instance.get_run_records()
    assert runs[0].dagster_run.job_name == "cascade_job"
