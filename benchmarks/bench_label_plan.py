"""Does the label plan keep its promise through the real model? Simulated comparisons whose
true Δ sits near the margin; when `compare` says need_more_labels, label as many more
requests as `labels_needed` says (uniformly among the unlabelled), compare again, and count
how often the decision resolves (promise: `settle_prob`, 0.8) and how often the wrong way.

    python benchmarks/bench_label_plan.py [--runs 400] [--items 2000] [--labelled 60]
                                          [--effect-sd 0.13]

Two designs of true effects around the margin (-0.1): Normal(0, sd) with `--effect-sd` (0.13:
about the first posterior's sd) and the default Uniform(-0.15, 0.15), which crowds truths at
the margin. The plan draws its truths from the posterior shrunk towards the margin
(`pipeline.stats.decision.label_plan`); a flat posterior over-promised in both designs.

Known truth: Δ = the mean over all items of human_B − human_A. The metric sees a per-response
quality (so it carries signal), as in bench_regions.py --response-quality 0.6.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

import numpy as np
import pandas as pd

from pipeline.compare import compare

MARGIN = 0.1


def simulate(rng, n_items: int, effect: float):
    level = rng.normal(3.0, 1.0, n_items)
    quality = {m: rng.normal(0, 0.6, n_items) for m in "AB"}
    human = {"A": level + quality["A"] + rng.normal(0, 0.6, n_items),
             "B": level + effect + quality["B"] + rng.normal(0, 0.6, n_items)}
    auto = {m: level + (effect if m == "B" else 0.0) + quality[m] + rng.normal(0, 0.4, n_items)
            for m in "AB"}
    frame = pd.DataFrame({"item_id": np.tile(np.arange(n_items), 2),
                          "model": np.repeat(["A", "B"], n_items),
                          "truth": np.concatenate([human["A"], human["B"]]),
                          "auto": np.concatenate([auto["A"], auto["B"]])})
    return frame, float((human["B"] - human["A"]).mean())


def with_labels(frame: pd.DataFrame, labelled: np.ndarray) -> pd.DataFrame:
    mask = np.tile(labelled, 2)
    return frame.assign(human=np.where(mask, frame["truth"], np.nan))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--labelled", type=int, default=60)
    parser.add_argument("--effect-sd", type=float, default=0.0,
                        help="true effects ~ Normal(0, sd) (0: Uniform(-0.15, 0.15), which "
                             "crowds them at the margin more than the posterior knows)")
    args = parser.parse_args()
    print(f"$ python {' '.join(shlex.quote(a) for a in sys.argv)}")
    start = time.time()
    rows = []
    for k in range(args.runs):
        rng = np.random.default_rng([7, k])
        effect = (rng.normal(0.0, args.effect_sd) if args.effect_sd
                  else rng.uniform(-0.15, 0.15))  # around the margin of 0.1
        frame, truth = simulate(rng, args.items, effect)
        labelled = np.zeros(args.items, bool)
        labelled[rng.choice(args.items, args.labelled, replace=False)] = True
        first = compare(with_labels(frame, labelled), "A", "B", margin=MARGIN, seed=k)
        if first.decision != "need_more_labels" or first.plan != "label":
            rows.append({"first": first.decision, "plan": first.plan})
            continue
        more = rng.choice(np.flatnonzero(~labelled), first.labels_needed, replace=False)
        labelled[more] = True
        second = compare(with_labels(frame, labelled), "A", "B", margin=MARGIN, seed=k)
        wrong = ((second.decision == "migrate" and truth < -MARGIN)
                 or (second.decision == "hold" and truth > -MARGIN))
        rows.append({"first": first.decision, "plan": first.plan,
                     "asked": first.labels_needed, "promised": first.settle_prob,
                     "resolved": second.decision in ("migrate", "hold"), "wrong": wrong})
    table = pd.DataFrame(rows)
    planned = table[table["plan"] == "label"]
    n = len(planned)
    rate = planned["resolved"].mean()
    print(f"{args.runs} comparisons, {args.labelled} labelled requests of {args.items}, margin "
          f"{MARGIN}; {time.time() - start:.0f} s")
    print(table["first"].value_counts().to_string())
    print(f"need_more_labels with a plan: {n}; labels asked: median "
          f"{planned['asked'].median():.0f} (range {planned['asked'].min()}-"
          f"{planned['asked'].max()}); promised settle_prob: mean "
          f"{planned['promised'].mean():.3f}")
    print(f"resolved after labelling what was asked: {rate:.3f} ± "
          f"{np.sqrt(rate * (1 - rate) / max(n, 1)):.3f}; promised - resolved: "
          f"{planned['promised'].mean() - rate:+.3f}; the wrong way: "
          f"{planned['wrong'].mean():.3f} ({int(planned['wrong'].sum())} of {n})")
    capped = planned["asked"] >= args.items - args.labelled
    for name, part in (("asked for every unlabelled request", planned[capped]),
                       ("asked for fewer", planned[~capped])):
        if len(part):
            print(f"  {name}: {len(part)} plans, promised {part['promised'].mean():.3f}, "
                  f"resolved {part['resolved'].mean():.3f}")


if __name__ == "__main__":
    main()
