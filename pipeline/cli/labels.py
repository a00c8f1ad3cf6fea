"""``llm-migrate propose-labels``: the next items to label, with their inclusion probabilities."""

from __future__ import annotations

import json
import sys

from pipeline.cli.inputs import read_frame
from pipeline.stats.active_labelling import propose_labels


def run_propose_labels(args) -> int:
    """Print the next items to label (active labelling, Poisson design) with their inclusion
    probability and weight; see pipeline.active_labelling."""
    frame = read_frame(args.file, "file of scored responses")
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


def add_parser(commands) -> None:
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


