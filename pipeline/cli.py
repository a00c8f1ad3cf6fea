"""The ``llm-migrate`` command.

    llm-migrate demo                 run the whole pipeline on the offline demo, print the decision
    llm-migrate decisions [--db P]   print the latest decisions from a warehouse
    llm-migrate replay PROMPTS ...   replay a prompt file against one model (see --help)
    llm-migrate compare FILE --incumbent A --candidate B [--json]
                                     Δ and the decision from a parquet/csv of scored responses
"""

from __future__ import annotations

import argparse
import sys

import duckdb
import pandas as pd

from pipeline import replay_cli, settings

DECISION_COLUMNS = ["candidate", "dimension", "decision", "delta_mean", "ci_low", "ci_high",
                    "p_better", "margin", "n_labels", "labels_needed"]


def latest_decisions(database: str, region: str = "ALL") -> pd.DataFrame:
    with duckdb.connect(database, read_only=True) as conn:
        return conn.execute(
            "SELECT * FROM v_latest_decisions WHERE region = ? ORDER BY candidate, dimension",
            [region],
        ).df()


def verdicts(database: str) -> pd.DataFrame:
    with duckdb.connect(database, read_only=True) as conn:
        return conn.execute(
            "SELECT candidate, verdict, by_dimension FROM v_migration_verdict ORDER BY 1"
        ).df()


def _print_decisions(database: str, truth: pd.DataFrame | None = None) -> None:
    table = latest_decisions(database)[DECISION_COLUMNS]
    if truth is not None:
        table = table.merge(truth, on=["candidate", "dimension"], how="left")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(3).to_string(index=False))
        print()
        print(verdicts(database).to_string(index=False))


def run_demo(_args) -> int:
    """Materialize every asset on the embedded default and print the decision."""
    from dagster import DagsterInstance  # the CLI's other commands do not need Dagster

    from assets.partitions import all_models_tags, ensure_model_partitions
    from pipeline import demo_world
    from pipeline.definitions import defs
    from pipeline.traffic import read_traffic

    instance = DagsterInstance.get()
    ensure_model_partitions(instance, defs.resources["models"].names())
    result = defs.resolve_job_def("migration_job").execute_in_process(
        instance=instance, tags=all_models_tags(instance)
    )
    if not result.success:
        print("the migration job failed; see the log above", file=sys.stderr)
        return 1
    database = settings.database()
    sources = defs.resources["sources"]
    truth = None
    if sources.traffic == "demo":  # the demo knows the answer: show it beside the estimate
        traffic = read_traffic(sources.traffic_file())
        truth = demo_world.true_deltas(traffic).query("region == 'ALL'")
        truth = truth.drop(columns="region")
    print("\nDecisions (region ALL; true_delta is the demo world's known answer):")
    _print_decisions(database, truth)
    print(f"\nWarehouse: {database}\nOpen the UI with `make dev` (http://127.0.0.1:3000).")
    return 0


def run_decisions(args) -> int:
    _print_decisions(args.db)
    return 0


def run_compare(args) -> int:
    """Compare two models on a parquet or csv file with one row per (item, model)."""
    import json

    from pipeline.compare import compare

    path = str(args.file)
    frame = pd.read_csv(path) if path.lower().endswith(".csv") else pd.read_parquet(path)
    try:
        result = compare(
            frame, args.incumbent, args.candidate, human_col=args.human_col,
            auto_cols=tuple(c.strip() for c in args.auto_cols.split(",") if c.strip()),
            item_col=args.item_col, model_col=args.model_col, group_col=args.group_col,
            margin=args.margin, prob=args.prob, seed=args.seed,
        )
    except ValueError as error:
        print(f"llm-migrate compare: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        for key, value in result.to_dict().items():
            print(f"{key:>20}: {value}")
    return 0


def _add_compare(commands) -> None:
    cmp = commands.add_parser("compare", help="Δ and decision for one candidate vs the incumbent")
    cmp.add_argument("file", help="parquet or csv, one row per (item, model)")
    cmp.add_argument("--incumbent", required=True)
    cmp.add_argument("--candidate", required=True)
    cmp.add_argument("--human-col", default="human")
    cmp.add_argument("--auto-cols", default="auto", help="comma-separated automated scores")
    cmp.add_argument("--item-col", default="item_id")
    cmp.add_argument("--model-col", default="model")
    cmp.add_argument("--group-col", default=None)
    cmp.add_argument("--margin", type=float, default=0.0)
    cmp.add_argument("--prob", type=float, default=0.95)
    cmp.add_argument("--seed", type=int, default=0)
    cmp.add_argument("--json", action="store_true", help="print the result as JSON")
    cmp.set_defaults(run=run_compare)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="llm-migrate", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the pipeline on the offline demo").set_defaults(run=run_demo)
    decisions = commands.add_parser("decisions", help="print the latest decisions")
    decisions.add_argument("--db", default=settings.database(), help="DuckDB file")
    decisions.set_defaults(run=run_decisions)
    replay_cli.add_parser(commands)
    _add_compare(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
