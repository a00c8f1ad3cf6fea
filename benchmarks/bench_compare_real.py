"""Real human judgments: coverage, width and confident-wrong rate of Δ for system pairs.

    python benchmarks/bench_compare_real.py [--pairs 8] [--masks 4] [--n 25 50] [--full]
                                            [--xstest] [--tasks xstest]

Data (/work/shared/datasets): SummEval `relevance` and `consistency` (16 systems x 100
articles, mean of 3 expert ratings 1-5) and REALSumm `litepyramid_recall` (24 systems x 100),
auto = ROUGE-L F of `response` vs `reference` (`rouge_score`). With --xstest also XSTest
refusal (`human_refusal` vs `auto_strmatch_label`, 2 systems x 450 prompts).
For each system pair (A, B) and random mask of n labelled items (both systems labelled on each),
the ground truth is the full-human mean difference over all 100 items. Methods: this model
(`pipeline.compare`), PPI++ (`ppi_py.ppi_mean_ci` on paired differences, lambda tuned) and the
human-only t-interval. Confident-wrong: the method is sure (interval / P(Δ>0) ≥ 0.95 or ≤ 0.05)
of the wrong sign of a non-zero truth.
Default is a modest sample (`--pairs` random pairs x `--masks` masks); --full = every pair x 20.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np
import pandas as pd
from ppi_py import ppi_mean_ci
from scipy import stats

from pipeline.compare import compare

DATA = Path("/work/shared/datasets")


def _rouge(frame: pd.DataFrame) -> np.ndarray:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"])
    return np.array([scorer.score(str(ref), str(resp))["rougeL"].fmeasure
                     for ref, resp in zip(frame["reference"], frame["response"])])


def tasks(xstest: bool) -> list[tuple[str, pd.DataFrame, str, str]]:
    summeval = pd.read_parquet(DATA / "summeval.parquet")
    summeval["rouge_l"] = _rouge(summeval)
    realsumm = pd.read_parquet(DATA / "realsumm.parquet")
    realsumm["rouge_l"] = _rouge(realsumm)
    out = [("summeval/relevance", summeval, "relevance", "rouge_l"),
           ("summeval/consistency", summeval, "consistency", "rouge_l"),
           ("realsumm/litepyramid", realsumm, "litepyramid_recall", "rouge_l")]
    if xstest:
        x = pd.read_parquet(DATA / "xstest_open.parquet")
        x["auto_refusal"] = x["auto_strmatch_label"].astype(str).str.contains("refusal").astype(float)
        x["human_refusal"] = x["human_refusal"].astype(float)
        out.append(("xstest/refusal", x, "human_refusal", "auto_refusal"))
    return out


def baselines(d_h, d_a, lab, alpha=0.05):
    lo, hi = ppi_mean_ci(d_h[lab], d_a[lab], d_a[~lab], alpha=alpha)
    n = lab.sum()
    m, se = d_h[lab].mean(), d_h[lab].std(ddof=1) / np.sqrt(n)
    t = stats.t.ppf(1 - alpha / 2, n - 1)
    return {"PPI++": (float(np.ravel(lo)[0]), float(np.ravel(hi)[0])),
            "human-only t": (m - t * se, m + t * se)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--masks", type=int, default=4)
    parser.add_argument("--n", type=int, nargs="+", default=[25, 50])
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--xstest", action="store_true")
    parser.add_argument("--tasks", nargs="*", default=None, help="only tasks whose name contains one of these")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    rows = []
    for name, data, human, auto in tasks(args.xstest):
        if args.tasks and not any(t in name for t in args.tasks):
            continue
        systems = sorted(data["system"].unique())
        pairs = list(itertools.combinations(systems, 2))
        masks = 20 if args.full else args.masks
        if not args.full and len(pairs) > args.pairs:
            pairs = [pairs[i] for i in rng.choice(len(pairs), args.pairs, replace=False)]
        for a, b in pairs:
            sub = data[data["system"].isin([a, b])]
            wide = sub.pivot(index="item_id", columns="system", values=[human, auto]).dropna()
            items = wide.index.to_numpy()
            d_h = (wide[human][b] - wide[human][a]).to_numpy()
            d_a = (wide[auto][b] - wide[auto][a]).to_numpy()
            truth = d_h.mean()
            frame = sub[sub["item_id"].isin(items)][["item_id", "system", human, auto]]
            for n in args.n:
                for _ in range(masks):
                    lab = np.zeros(len(items), bool)
                    lab[rng.choice(len(items), n, replace=False)] = True
                    masked = frame.copy()
                    masked.loc[~masked["item_id"].isin(items[lab]), human] = np.nan
                    start = time.perf_counter()
                    c = compare(masked, a, b, human_col=human, auto_cols=(auto,),
                                model_col="system",
                                seed=int(rng.integers(1 << 30)))
                    secs = time.perf_counter() - start
                    found = {"model": (c.ci_low, c.ci_high, c.p_candidate_better, secs)}
                    if c.likelihood != "gaussian":  # the linear (difference) model beside it
                        start = time.perf_counter()
                        g = compare(masked, a, b, human_col=human, auto_cols=(auto,),
                                    model_col="system", likelihood="gaussian",
                                    seed=int(rng.integers(1 << 30)))
                        found["model (linear)"] = (g.ci_low, g.ci_high, g.p_candidate_better,
                                                   time.perf_counter() - start)
                    for method, (lo, hi) in baselines(d_h, d_a, lab).items():
                        found[method] = (lo, hi, 1.0 if lo > 0 else 0.0 if hi < 0 else 0.5, 0.0)
                    for method, (lo, hi, p_better, secs) in found.items():
                        sure_wrong = (truth > 0 and p_better <= 0.05) or (truth < 0 and p_better >= 0.95)
                        rows.append({"task": name, "n": n, "method": method,
                                     "covered": lo <= truth <= hi, "width": hi - lo,
                                     "confident_wrong": bool(sure_wrong), "secs": secs,
                                     "key": (a, b, _)})
    table = pd.DataFrame(rows)
    summary = table.groupby(["task", "n", "method"], sort=False).agg(
        fits=("covered", "size"), coverage=("covered", "mean"), mean_width=("width", "mean"),
        confident_wrong=("confident_wrong", "mean"), s_per_fit=("secs", "mean")).reset_index()
    ppi = summary[summary["method"] == "PPI++"].set_index(["task", "n"])["mean_width"]
    summary["width_vs_ppi++"] = summary["mean_width"] / summary.set_index(["task", "n"]).index.map(ppi)
    print(f"pairs/task={'all' if args.full else args.pairs} masks={20 if args.full else args.masks}; "
          "truth = full-human mean difference; nominal 0.95")
    with pd.option_context("display.width", 200):
        print(summary.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
