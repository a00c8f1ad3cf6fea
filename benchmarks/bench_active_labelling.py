"""Active vs uniform labelling: coverage and width of the 95% interval for Δ at equal budgets.

    python benchmarks/bench_active_labelling.py [--datasets 200] [--items 2000]
                                                [--budgets 50 100 200 400] [--pilot 0.25]
                                                [--floor 0.2] [--real]

Simulation with a known truth. Each dataset: `items` prompts answered by models A (incumbent)
and B (candidate); item difficulty q ~ N(0, 1); true quality t_M = q + gap·1[B] + N(0, 0.5)
(gap ~ N(0.1, 0.1) per dataset). One metric, a1 = t + 0.3·1[B] + N(0, 0.1): it tracks quality
but flatters B by 0.3. Human score h = t + N(0, s(q)²), s(q) = 0.1 + 1.5 sigmoid(4 (q − 0.85)):
humans and metric agree on easy items and disagree on the hardest ~20% (heteroscedastic
human-vs-metric noise, which the active design can find from the metric level). Truth: mean
h_B − h_A over all items of the dataset (finite population).

Budget n labelled items (both responses of each). Methods:
* active (budget | precision): round 1 = `propose_labels` with no labels yet (uniform, f = 0)
  for n·pilot items; round 2 = `propose_labels` for the rest of the budget (f and the
  |residual| model fitted on round 1; pi ∝ predicted |residual| with a uniform floor);
  `active_estimate` over both rounds, with fixed weights ∝ each round's budget (exactly
  unbiased) or inverse estimated variances ("precision").
* uniform (budget | precision): the same two rounds and estimator, round 2 with a constant
  uncertainty (pi = k / pool).
* PPI++ uniform: n items uniformly at random, `ppi_py.ppi_mean_ci` on the paired differences
  with the metric difference as prediction (lambda tuned).
`labels` is the mean number of labelled items (Poisson sampling: random, mean ~n).
`n_for_active_width@100`: the budget at which a non-active method's mean width equals that
of "active (precision)" at n = 100, interpolated log-log over the budgets (beyond the grid: the
1/sqrt(n) law).
With --real: SummEval relevance, every pair of the 16 systems over its 100 articles x 5 random
masks, auto = ROUGE-L F (`rouge_score`), truth = the full human mean difference; same methods
at n = 40 (a small population: the active design has little room).
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np
import pandas as pd
from ppi_py import ppi_mean_ci

from pipeline.active_labelling import active_estimate, propose_labels

DATA = Path("/work/shared/datasets")
HARD_FROM = 0.85  # the metric misleads on items harder than this: about the hardest 20%


def simulate(rng, n_items: int) -> tuple[pd.DataFrame, float]:
    q = rng.normal(0, 1, n_items)  # item difficulty, seen by the metric
    gap = rng.normal(0.1, 0.1)
    human_noise_sd = 0.1 + 1.5 / (1 + np.exp(-4 * (q - HARD_FROM)))
    frames = []
    for model, shift, flatter in (("A", 0.0, 0.0), ("B", gap, 0.3)):
        quality = q + shift + rng.normal(0, 0.5, n_items)
        a1 = quality + flatter + rng.normal(0, 0.1, n_items)
        human = quality + rng.normal(0, 1, n_items) * human_noise_sd
        frames.append(pd.DataFrame({"item_id": np.arange(n_items), "model": model,
                                    "human": human, "a1": a1}))
    frame = pd.concat(frames, ignore_index=True)
    truth = float(frames[1]["human"].mean() - frames[0]["human"].mean())
    return frame, truth


def with_labels(full: pd.DataFrame, items) -> pd.DataFrame:
    """The frame with human labels only on ``items`` (both models)."""
    return full.assign(human=full["human"].where(full["item_id"].isin(items)))


def two_rounds(full, n, pilot_share, floor, seed, active, auto_cols=("a1",)):
    """Round 1: propose_labels without labels (uniform, f = 0) for n·pilot_share items;
    round 2: the rest of the budget, active or uniform, with f (and u) from round 1.
    Returns the estimate under both weightings and the number of labelled items."""
    all_items = full["item_id"].unique()
    unlabelled = with_labels(full, [])
    first = propose_labels(unlabelled, max(1, int(round(n * pilot_share))), "A", "B", auto_cols,
                           seed=2 * seed, floor=floor)
    pilot = first.loc[first["selected"], "item_id"]
    frame = with_labels(full, pilot)
    uncertainty = None if active else pd.Series(1.0, index=all_items)
    second = propose_labels(frame, max(1, n - len(pilot)), "A", "B", auto_cols,
                            uncertainty=uncertainty, seed=2 * seed + 1, floor=floor)
    chosen = second.loc[second["to_label"], "item_id"]
    labelled = with_labels(full, np.r_[pilot, chosen])
    return {combine: active_estimate(labelled, [first, second], "A", "B", combine=combine)
            for combine in ("budget", "precision")}, len(pilot) + len(chosen)


def ppi_uniform(full, rng, n, metric="a1"):
    wide = full.pivot(index="item_id", columns="model", values=["human", metric])
    d_h = (wide["human"]["B"] - wide["human"]["A"]).to_numpy()
    d_a = (wide[metric]["B"] - wide[metric]["A"]).to_numpy()
    lab = np.zeros(len(d_h), bool)
    lab[rng.choice(len(d_h), n, replace=False)] = True
    lo, hi = ppi_mean_ci(d_h[lab], d_a[lab], d_a[~lab], alpha=0.05)
    return float(np.ravel(lo)[0]), float(np.ravel(hi)[0]), n


def run_methods(full, truth, rng, n, args, seed, auto_cols=("a1",)):
    """(covered, width, labels used) of each method at budget n."""
    out = {}
    for name, active in (("active", True), ("uniform", False)):
        estimates, used = two_rounds(full, n, args.pilot, args.floor, seed, active, auto_cols)
        for combine, est in estimates.items():
            covered = est.ci_low <= truth <= est.ci_high
            out[f"{name} ({combine})"] = (covered, est.ci_high - est.ci_low, used)
    lo, hi, used = ppi_uniform(full, rng, n, auto_cols[0])
    out["PPI++ uniform"] = (lo <= truth <= hi, hi - lo, used)
    return out


def labels_to_reach(widths: dict[int, float], target: float) -> float:
    """Budget at which the width curve (log-log interpolation) reaches ``target``."""
    ns = np.array(sorted(widths), float)
    ws = np.array([widths[int(n)] for n in ns])
    if target <= ws[-1]:  # beyond the grid: width ∝ 1/sqrt(n)
        return float(ns[-1] * (ws[-1] / target) ** 2)
    if target >= ws[0]:
        return float(ns[0] * (ws[0] / target) ** 2)
    return float(np.exp(np.interp(np.log(target), np.log(ws[::-1]), np.log(ns[::-1]))))


def summarise(results: dict, reference: str = "active (precision)") -> pd.DataFrame:
    rows = []
    for (n, method), rs in results.items():
        rows.append({"n": n, "method": method, "coverage": np.mean([r[0] for r in rs]),
                     "mean_width": np.mean([r[1] for r in rs]),
                     "labels": np.mean([r[2] for r in rs])})
    table = pd.DataFrame(rows)
    active_100 = table.query("n == 100 and method == @reference")["mean_width"]
    if len(active_100):
        for method in table["method"].unique():
            curve = dict(table.query("method == @method")[["n", "mean_width"]].to_numpy())
            table.loc[table["method"] == method, "n_for_active_width@100"] = (
                labels_to_reach({int(k): v for k, v in curve.items()}, float(active_100.iloc[0]))
                if not method.startswith("active") else np.nan)
    return table


def simulation(args) -> None:
    rng = np.random.default_rng(args.seed)
    results: dict[tuple, list] = {}
    start = time.perf_counter()
    for ds in range(args.datasets):
        full, truth = simulate(rng, args.items)
        for n in args.budgets:
            for method, r in run_methods(full, truth, rng, n, args, seed=ds * 1000 + n).items():
                results.setdefault((n, method), []).append(r)
    table = summarise(results)
    print(f"simulation: datasets={args.datasets} items={args.items} pilot share={args.pilot} "
          f"floor={args.floor}; nominal 0.95, coverage MC s.e. ~"
          f"{np.sqrt(0.95 * 0.05 / args.datasets):.3f}; {time.perf_counter() - start:.0f} s")
    print(table.round(3).to_string(index=False))


def _rouge(frame: pd.DataFrame) -> np.ndarray:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"])
    return np.array([scorer.score(str(ref), str(resp))["rougeL"].fmeasure
                     for ref, resp in zip(frame["reference"], frame["response"])])


def real(args, n: int = 40, masks: int = 5) -> None:
    summeval = pd.read_parquet(DATA / "summeval.parquet")
    summeval["a1"] = _rouge(summeval)
    rng = np.random.default_rng(args.seed)
    results: dict[tuple, list] = {}
    for k, (a, b) in enumerate(itertools.combinations(sorted(summeval["system"].unique()), 2)):
        pair = summeval[summeval["system"].isin([a, b])]
        full = pd.DataFrame({"item_id": pair["item_id"].to_numpy(),
                             "model": np.where(pair["system"] == a, "A", "B"),
                             "human": pair["relevance"].to_numpy(float),
                             "a1": pair["a1"].to_numpy()})
        truth = float(full.query("model == 'B'")["human"].mean()
                      - full.query("model == 'A'")["human"].mean())
        for mask in range(masks):
            for method, r in run_methods(full, truth, rng, n, args, seed=k * masks + mask).items():
                results.setdefault((n, method), []).append(r)
    table = summarise(results)
    print(f"\nSummEval relevance, auto = ROUGE-L F; 120 system pairs x {masks} masks, "
          f"100 items, n = {n}; pilot share={args.pilot} floor={args.floor}")
    print(table.drop(columns=[c for c in table if c.startswith("n_for")]).round(3)
          .to_string(index=False))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", type=int, default=200)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--budgets", type=int, nargs="+", default=[50, 100, 200, 400])
    parser.add_argument("--pilot", type=float, default=0.25,
                        help="share of the budget labelled uniformly first")
    parser.add_argument("--floor", type=float, default=0.2)
    parser.add_argument("--real", action="store_true", help="also SummEval relevance")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    simulation(args)
    if args.real:
        real(args)


if __name__ == "__main__":
    main()
