"""``llm-migrate cascade``: a cascade's thresholds and error-cost curve from a scored file."""

from __future__ import annotations

import json
import math
import sys

from pipeline.cli.inputs import read_frame
from pipeline.stats.cascade import evaluate_cascade
from pipeline.stats.cascade_plan import FOLDS, plan_cascade


def _number(value: float) -> float | str:
    """A threshold for JSON: ±inf as the strings "inf" / "-inf" (always defer / never defer)."""
    return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def result_dict(frame, models: list[str], cost_weight: float | None, folds: int = FOLDS,
                seed: int = 0) -> dict:
    """The JSON contract: the models, the items, the best single model, the chosen point (with
    ``cost_weight``; else the points are the curve), and the curve with what each point's
    thresholds measure held out (``measured_*``, by ``measured_on``: cross-validation) and on
    the items the curve was fitted on (``in_sample_*``)."""
    fit, curve, best, how = plan_cascade(frame, models, cost_weight, folds, seed)
    out = {"models": models, "n_items": int(frame[frame["model"].isin(models)]["item_id"]
                                             .nunique()),
           "best_single": best, "cost_weight": cost_weight, "measured_on": how, "point": None,
           "curve": [{"cost_weight": float(row.cost_weight),
                      "thresholds": [_number(t) for t in row.thresholds],
                      "deferral": list(row.deferral),
                      "expected_error": float(row.expected_error),
                      "expected_cost": float(row.expected_cost),
                      "measured_error": float(row.measured_error),
                      "measured_cost": float(row.measured_cost),
                      "in_sample_error": float(row.in_sample_error),
                      "in_sample_cost": float(row.in_sample_cost)}
                     for row in curve.itertuples(index=False)]}
    if cost_weight is not None:
        measured = evaluate_cascade(frame, models, list(fit.thresholds))
        out["point"] = {**out["curve"][0], "answered_share": list(measured.answered_share)}
    return out


def run_cascade(args) -> int:
    frame = read_frame(args.file, "file of scored responses")
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if len(models) < 2:
        print("llm-migrate cascade: --models needs at least two models, cheapest first, "
              "separated by commas", file=sys.stderr)
        return 2
    try:
        result = result_dict(frame, models, args.cost_weight, args.folds, args.seed)
    except (ValueError, TypeError) as error:
        print(f"llm-migrate cascade: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    best = result["best_single"]
    print(f"cascade {' > '.join(models)} on {result['n_items']} items; best single model "
          f"{best['model']}: error {best['error']:.3f}, cost {best['cost']:.4g}")
    print(f"ho_error, ho_cost: measured held out, by {result['measured_on']}")
    print(f"{'cost_weight':>12} {'thresholds':>24} {'exp_error':>9} {'exp_cost':>9} "
          f"{'ho_error':>8} {'ho_cost':>9}")
    for row in result["curve"]:
        thresholds = ", ".join(t if isinstance(t, str) else f"{t:.3g}" for t in row["thresholds"])
        print(f"{row['cost_weight']:>12.4g} {thresholds:>24} {row['expected_error']:>9.3f} "
              f"{row['expected_cost']:>9.4g} {row['measured_error']:>8.3f} "
              f"{row['measured_cost']:>9.4g}")
    return 0


def add_parser(commands) -> None:
    cmd = commands.add_parser(
        "cascade", help="a cascade's confidence thresholds and error-cost curve",
        description="Fit the Markov-copula cascade model (pipeline.cascade) on a file with one "
                    "row per (item_id, model): confidence (any real, higher = more confident, "
                    "e.g. responses.confidence), correct (0/1), cost (per request). Prints "
                    "the error-cost curve, or the point of --cost-weight, with what each "
                    "point's thresholds measure on items the fit did not see (k-fold "
                    "cross-validation; in --json also in sample). In --json a threshold of "
                    "\"-inf\" never defers, \"inf\" always does.")
    cmd.add_argument("file", help="parquet or csv, one row per (item_id, model)")
    cmd.add_argument("--models", required=True,
                     help="the cascade's models in order, cheapest first, as ONE argument "
                          "separated by commas (A,B,C); a model name containing a comma "
                          "cannot be given here")
    cmd.add_argument("--cost-weight", type=float, default=None,
                     help="thresholds minimising error + W x cost; unset: the whole curve")
    cmd.add_argument("--folds", type=int, default=FOLDS,
                     help=f"folds of the cross-validation that measures error and cost held "
                          f"out (default {FOLDS})")
    cmd.add_argument("--seed", type=int, default=0, help="seed of the folds' shuffle")
    cmd.add_argument("--json", action="store_true", help="print the result as JSON")
    cmd.set_defaults(run=run_cascade)
