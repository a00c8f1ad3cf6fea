"""``llm-migrate compare``: Δ and the decision from a file of scored responses."""

from __future__ import annotations

import json
import sys

from pipeline.cli.inputs import read_frame
from pipeline.stats.compare import compare, compare_many


def run_compare(args) -> int:
    """Compare candidates with the incumbent on a parquet or csv file with one row per
    (item, model). One candidate prints a Comparison; several add P(best) for each model."""
    frame = read_frame(args.file, "file of scored responses")
    candidates = [c.strip() for given in args.candidate for c in given.split(",") if c.strip()]
    options = dict(
        human_col=args.human_col,
        auto_cols=tuple(c.strip() for c in args.auto_cols.split(",") if c.strip()),
        item_col=args.item_col, model_col=args.model_col, group_col=args.group_col,
        margin=args.margin, prob=args.prob, seed=args.seed, likelihood=args.likelihood,
        weight_col=args.weight_col,
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


def add_parser(commands) -> None:
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
    cmp.add_argument("--weight-col", default=None,
                     help="design weights (1 / inclusion probability) of unequally drawn labels")
    cmp.add_argument("--margin", type=float, default=0.0)
    cmp.add_argument("--prob", type=float, default=0.95)
    cmp.add_argument("--seed", type=int, default=0)
    cmp.add_argument("--likelihood", default="auto",
                     choices=("auto", "gaussian", "ordinal", "bernoulli"))
    cmp.add_argument("--json", action="store_true", help="print the result as JSON")
    cmp.set_defaults(run=run_compare)


