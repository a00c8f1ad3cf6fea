"""``llm-migrate demo``: the whole pipeline on the embedded default, then the decision.

The one command that runs the Dagster layer: the CLI is the shell over both layers, and this
command alone imports the code location (so the others start without Dagster).
"""

from __future__ import annotations

import sys

from pipeline import config
from pipeline.cli.decisions import print_decisions


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
        traffic = read_traffic(sources.traffic_file())
        truth = demo_world.true_deltas(traffic).query("region == 'ALL'")
        truth = truth.drop(columns="region")
    print("\nDecisions (region ALL; true_delta is the demo world's known answer):")
    print_decisions(database, truth)
    print(f"\nWarehouse: {database}\nOpen the UI with `make dev` (http://127.0.0.1:3000).")
    return 0



def add_parser(commands) -> None:
    commands.add_parser("demo",
                        help="run the pipeline on the offline demo").set_defaults(run=run_demo)
