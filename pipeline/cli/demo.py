"""``llm-migrate demo``: the whole pipeline on the embedded default, then the decision.

The one command that runs the Dagster layer: the CLI is the shell over both layers, and this
command alone imports the code location (so the others start without Dagster).
"""

from __future__ import annotations

import sys

import pandas as pd

from pipeline import config
from pipeline.cli.decisions import latest_decisions, print_decisions


def run_demo(_args) -> int:
    """Materialize every asset on the embedded default and print the decision."""
    from dagster import DagsterInstance  # the CLI's other commands do not need Dagster

    from assets.definitions import defs
    from assets.partitions import all_models_tags, ensure_model_partitions
    from pipeline.data.traffic import read_traffic
    from pipeline.demo import world as demo_world

    instance = DagsterInstance.get()
    ensure_model_partitions(instance, defs.resources["models"].names())
    result = defs.resolve_job_def("migration_job").execute_in_process(
        instance=instance, tags=all_models_tags(instance)
    )
    if not result.success:
        print("the migration job failed; see the log above", file=sys.stderr)
        return 1
    database = config.database()
    sources = defs.resources["sources"]
    truth = None
    if sources.traffic == "demo":  # the demo knows the answer: show it beside the estimate
        truth = demo_world.estimable_deltas(read_traffic(sources.traffic_file()))
    print("\nDecisions (region ALL; true_delta is the Δ the demo's labels estimate):")
    print_decisions(database, None if truth is None else
                    truth.query("region == 'ALL'").drop(columns="region"))
    if truth is not None:
        print_coverage(database, truth)
    print(f"\nWarehouse: {database}\nOpen the UI with `make dev` (http://127.0.0.1:3000).")
    return 0



def print_coverage(database: str, truth: pd.DataFrame) -> None:
    """Every interval of the latest run beside the Δ the demo's labels can estimate (true
    scores after the annotators' rounding and clipping to the scale), and whether it holds
    it: the demo's own check that the pipeline tells the truth region by region."""
    table = latest_decisions(database, region=None).merge(
        truth, on=["candidate", "dimension", "region"], how="left")
    table["covered"] = (table["ci_low"] <= table["true_delta"]) \
        & (table["true_delta"] <= table["ci_high"])
    columns = ["candidate", "dimension", "region", "decision", "ci_low", "ci_high", "true_delta",
               "covered"]
    print(f"\nEvery interval against the truth: {int(table['covered'].sum())} of {len(table)} "
          "hold it.")
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        print(table[columns].round(3).to_string(index=False))


def add_parser(commands) -> None:
    commands.add_parser("demo",
                        help="run the pipeline on the offline demo").set_defaults(run=run_demo)
