"""The ``llm-migrate`` command.

    llm-migrate demo                 run the whole pipeline on the offline demo, print the decision
    llm-migrate decisions [--db P]   print the latest decisions from a warehouse
    llm-migrate replay PROMPTS ...   replay a prompt file against one model (see --help)
    llm-migrate compare FILE --incumbent A --candidate B[,C...] [--json]
                                     Δ and the decision from a parquet/csv of scored responses;
                                     with several candidates also P(best) for each model
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
            "SELECT candidate, verdict, labels_needed, by_dimension, blocking_regions "
            "FROM v_migration_verdict ORDER BY 1"
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
    """Compare candidates with the incumbent on a parquet or csv file with one row per
    (item, model). One candidate prints a Comparison; several add P(best) for each model."""
    import json

    from pipeline.compare import compare, compare_many

    path = str(args.file)
    frame = pd.read_csv(path) if path.lower().endswith(".csv") else pd.read_parquet(path)
    candidates = [c.strip() for given in args.candidate for c in given.split(",") if c.strip()]
    options = dict(
        human_col=args.human_col,
        auto_cols=tuple(c.strip() for c in args.auto_cols.split(",") if c.strip()),
        item_col=args.item_col, model_col=args.model_col, group_col=args.group_col,
        margin=args.margin, prob=args.prob, seed=args.seed, likelihood=args.likelihood,
    )
    try:
        if len(candidates) == 1:
            result = compare(frame, args.incumbent, candidates[0], **options)
        else:
            result = compare_many(frame, args.incumbent, candidates, **options)
    except ValueError as error:
        print(f"llm-migrate compare: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        _print_comparison(result)
    return 0


def _print_comparison(result) -> None:
    comparisons = getattr(result, "comparisons", [result])
    for comparison in comparisons:
        for key, value in comparison.to_dict().items():
            print(f"{key:>20}: {value}")
        print()
    for name, p in getattr(result, "p_best", {}).items():
        print(f"P(best) {name:>12}: {p:.3f}")
    if hasattr(result, "method"):
        how = "one model, every candidate" if result.method == "joint" else "a model per candidate"
        print(f"{'fitted':>20}: {result.method} ({how})")


def _add_compare(commands) -> None:
    cmp = commands.add_parser("compare", help="Δ and decision for candidates vs the incumbent")
    cmp.add_argument("file", help="parquet or csv, one row per (item, model)")
    cmp.add_argument("--incumbent", required=True)
    cmp.add_argument("--candidate", required=True, action="append",
                     help="candidate model; repeat it or separate with commas for several")
    cmp.add_argument("--human-col", default="human")
    cmp.add_argument("--auto-cols", default="auto", help="comma-separated automated scores")
    cmp.add_argument("--item-col", default="item_id")
    cmp.add_argument("--model-col", default="model")
    cmp.add_argument("--group-col", default=None)
    cmp.add_argument("--margin", type=float, default=0.0)
    cmp.add_argument("--prob", type=float, default=0.95)
    cmp.add_argument("--seed", type=int, default=0)
    cmp.add_argument("--likelihood", default="auto",
                     choices=("auto", "gaussian", "ordinal", "bernoulli"))
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
    _add_propose_labels(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


def run_propose_labels(args) -> int:
    """Print the next items to label (active labelling, Poisson design) with their inclusion
    probability and weight; see pipeline.active_labelling."""
    import json

    from pipeline.active_labelling import propose_labels

    path = str(args.file)
    frame = pd.read_csv(path) if path.lower().endswith(".csv") else pd.read_parquet(path)
    try:
        design = propose_labels(
            frame, args.k, args.incumbent, args.candidate,
            auto_cols=[c.strip() for c in args.auto_cols.split(",") if c.strip()],
            item_col=args.item_col, model_col=args.model_col, human_col=args.human_col,
            seed=args.seed, floor=args.floor,
        )
    except ValueError as error:
        print(f"llm-migrate propose-labels: {error}", file=sys.stderr)
        return 2
    if args.save_design:  # active_estimate needs the whole design with the labels later
        design.to_csv(args.save_design, index=False)
    proposed = design.loc[design["to_label"], [args.item_col, "inclusion_prob", "weight"]]
    if args.json:
        print(json.dumps(proposed.to_dict(orient="records"), indent=2, default=str))
    else:
        print(proposed.to_string(index=False))
    return 0


def _add_propose_labels(commands) -> None:
    cmd = commands.add_parser("propose-labels", help="the next items to label (active labelling)")
    cmd.add_argument("file", help="parquet or csv, one row per (item, model)")
    cmd.add_argument("--incumbent", required=True)
    cmd.add_argument("--candidate", required=True)
    cmd.add_argument("--auto-cols", default="auto", help="comma-separated automated scores")
    cmd.add_argument("--k", type=int, required=True, help="expected number of new items to label")
    cmd.add_argument("--human-col", default="human")
    cmd.add_argument("--item-col", default="item_id")
    cmd.add_argument("--model-col", default="model")
    cmd.add_argument("--floor", type=float, default=0.2, help="uniform share of the budget")
    cmd.add_argument("--seed", type=int, default=0)
    cmd.add_argument("--save-design", default=None, help="write the full design (csv) here")
    cmd.add_argument("--json", action="store_true", help="print the proposals as JSON")
    cmd.set_defaults(run=run_propose_labels)


if __name__ == "__main__":
    sys.exit(main())
