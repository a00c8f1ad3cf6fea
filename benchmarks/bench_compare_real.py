"""Real human judgments: coverage, width and confident-wrong rate of Δ for system pairs.

    python benchmarks/bench_compare_real.py [--pairs 8] [--masks 4] [--n 25 50] [--full]
                                            [--metrics rouge_l bertscore]
                                            [--xstest] [--xstest-detector ours|strmatch]
                                            [--tasks xstest]

Data (/work/shared/datasets): SummEval `relevance` and `consistency` (16 systems x 100
articles, mean of 3 expert ratings 1-5) and REALSumm `litepyramid_recall` (24 systems x 100).
Automated metrics (`--metrics`, default rouge_l): ROUGE-L F (`rouge_score`) and/or BERTScore F1
(`pipeline.scoring.bert.bertscore`, idf off as in the pipeline) of `response` vs `reference`;
BERTScore takes minutes on CPU, so it is cached in benchmarks/.cache/<dataset>_bertscore.parquet
(recomputed when the rows or the scorer version change). With --xstest also XSTest refusal
(`human_refusal`, 2 systems x 450 prompts) with the project's detector
(`pipeline.scoring.refusal.refusal_score`) or, with --xstest-detector strmatch, the data set's
`auto_strmatch_label`.
For each system pair (A, B) and random mask of n labelled items (both systems labelled on each),
the ground truth is the full-human mean difference over all 100 items. Methods: this model
(`pipeline.compare`, given every metric), PPI++ (`ppi_py.ppi_mean_ci` on paired differences,
lambda tuned; it takes one automated signal: the first metric listed, printed per task) and the
human-only t-interval. Confident-wrong: the method is sure (interval / P(Δ>0) ≥ 0.95 or ≤ 0.05)
of the wrong sign of a non-zero truth. Forced choice: the share of fits that, made to name the
better system, name the truly better one (the model: P(Δ>0) > 0.5; PPI++ and human-only: the
sign of their point estimate).
Default is a modest sample (`--pairs` random pairs x `--masks` masks); --full = every pair x 20.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import time
from pathlib import Path

import numpy as np
import pandas as pd
from ppi_py import ppi_mean_ci
from scipy import stats

from pipeline.compare import compare

DATA = Path("/work/shared/datasets")
CACHE = Path(__file__).resolve().parent / ".cache"
# (task, data set, human column) of the summarisation tasks, scored with --metrics.
SUMMARY_TASKS = [("summeval/relevance", "summeval", "relevance"),
                 ("summeval/consistency", "summeval", "consistency"),
                 ("realsumm/litepyramid", "realsumm", "litepyramid_recall")]


def _rouge(frame: pd.DataFrame, _dataset: str) -> np.ndarray:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"])
    return np.array([scorer.score(str(ref), str(resp))["rougeL"].fmeasure
                     for ref, resp in zip(frame["reference"], frame["response"])])


def _cache_keys(frame: pd.DataFrame, version: str) -> pd.DataFrame:
    """What a cached score belongs to: the row, a digest of its two texts and the scorer version,
    so an edited data set or a changed scorer is recomputed, never silently reused."""
    digests = [hashlib.sha1(f"{resp}\0{ref}".encode()).hexdigest()
               for resp, ref in zip(frame["response"], frame["reference"])]
    return pd.DataFrame({"item_id": frame["item_id"].astype(str).to_numpy(),
                         "system": frame["system"].astype(str).to_numpy(),
                         "texts_sha1": digests, "scorer": version})


def _cached_scores(path: Path, keys: pd.DataFrame) -> np.ndarray | None:
    if not path.exists():
        return None
    cached = pd.read_parquet(path)
    if len(cached) != len(keys) or not (cached[keys.columns].to_numpy() == keys.to_numpy()).all():
        return None
    return cached["score"].to_numpy()


def _bertscore(frame: pd.DataFrame, dataset: str) -> np.ndarray:
    from pipeline.scoring.bert import VERSION, bertscore

    path = CACHE / f"{dataset}_bertscore.parquet"
    keys = _cache_keys(frame, VERSION)
    cached = _cached_scores(path, keys)
    if cached is not None:
        return cached
    start = time.perf_counter()
    texts = frame[["response", "reference"]]
    distinct = texts.drop_duplicates()
    distinct = distinct.assign(score=bertscore(distinct["response"].tolist(),
                                               distinct["reference"].tolist())["f1"].to_numpy())
    scores = texts.merge(distinct, on=["response", "reference"], how="left")["score"].to_numpy()
    print(f"BERTScore {dataset}: {len(distinct)} distinct pairs of {len(texts)} rows scored in "
          f"{time.perf_counter() - start:.0f}s, cached in {path}")
    CACHE.mkdir(exist_ok=True)
    keys.assign(score=scores).to_parquet(path, index=False)
    return scores


METRICS = {"rouge_l": _rouge, "bertscore": _bertscore}


def _refusal_ours(x: pd.DataFrame) -> np.ndarray:
    from pipeline.scoring.refusal import refusal_score

    return refusal_score(x["response"].tolist(), x["prompt"].tolist())


def _refusal_strmatch(x: pd.DataFrame) -> np.ndarray:
    return x["auto_strmatch_label"].astype(str).str.contains("refusal").to_numpy(float)


XSTEST_DETECTORS = {"ours": _refusal_ours, "strmatch": _refusal_strmatch}


def _selected(name: str, only: list[str] | None) -> bool:
    return not only or any(t in name for t in only)


def tasks(xstest: bool, metrics: list[str], detector: str = "ours",
          only: list[str] | None = None) -> list[tuple[str, pd.DataFrame, str, tuple[str, ...]]]:
    """(name, frame, human column, automated columns) of each selected task; the first automated
    column is the one PPI++ gets. Only data sets a selected task needs are loaded and scored."""
    chosen = [t for t in SUMMARY_TASKS if _selected(t[0], only)]
    frames = {}
    for dataset in dict.fromkeys(dataset for _, dataset, _ in chosen):
        frame = pd.read_parquet(DATA / f"{dataset}.parquet")
        for metric in metrics:
            frame[metric] = METRICS[metric](frame, dataset)
        frames[dataset] = frame
    out = [(name, frames[dataset], human, tuple(metrics)) for name, dataset, human in chosen]
    if xstest and _selected("xstest/refusal", only):
        x = pd.read_parquet(DATA / "xstest_open.parquet")
        x[f"refusal_{detector}"] = XSTEST_DETECTORS[detector](x)
        x["human_refusal"] = x["human_refusal"].astype(float)
        out.append(("xstest/refusal", x, "human_refusal", (f"refusal_{detector}",)))
    return out


def describe(name: str, data: pd.DataFrame, human: str, autos: tuple[str, ...]) -> str:
    """Which signal each method gets, and how well each tracks the human score item by item."""
    rho = ", ".join(f"{col} {stats.spearmanr(data[col], data[human]).statistic:.3f}"
                    for col in autos)
    return (f"{name}: model gets {', '.join(autos)}; PPI++ gets {autos[0]}; "
            f"Spearman vs {human} over all rows: {rho}")


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
    parser.add_argument("--metrics", nargs="+", choices=list(METRICS), default=["rouge_l"],
                        help="automated metrics of the summarisation tasks; PPI++ gets the first")
    parser.add_argument("--xstest", action="store_true")
    parser.add_argument("--xstest-detector", choices=list(XSTEST_DETECTORS), default="ours",
                        help="refusal detector of the xstest task")
    parser.add_argument("--tasks", nargs="*", default=None,
                        help="only tasks whose name contains one of these")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    metrics = list(dict.fromkeys(args.metrics))  # a metric named twice would be a duplicate column

    rows = []
    chosen = tasks(args.xstest, metrics, args.xstest_detector, args.tasks)
    for name, data, human, autos in chosen:
        systems = sorted(data["system"].unique())
        pairs = list(itertools.combinations(systems, 2))
        masks = 20 if args.full else args.masks
        if not args.full and len(pairs) > args.pairs:
            pairs = [pairs[i] for i in rng.choice(len(pairs), args.pairs, replace=False)]
        for a, b in pairs:
            sub = data[data["system"].isin([a, b])]
            wide = sub.pivot(index="item_id", columns="system", values=[human, *autos]).dropna()
            items = wide.index.to_numpy()
            d_h = (wide[human][b] - wide[human][a]).to_numpy()
            d_a = (wide[autos[0]][b] - wide[autos[0]][a]).to_numpy()
            truth = d_h.mean()
            frame = sub[sub["item_id"].isin(items)][["item_id", "system", human, *autos]]
            for n in args.n:
                for _ in range(masks):
                    lab = np.zeros(len(items), bool)
                    lab[rng.choice(len(items), n, replace=False)] = True
                    masked = frame.copy()
                    masked.loc[~masked["item_id"].isin(items[lab]), human] = np.nan
                    start = time.perf_counter()
                    c = compare(masked, a, b, human_col=human, auto_cols=autos,
                                model_col="system",
                                seed=int(rng.integers(1 << 30)))
                    secs = time.perf_counter() - start
                    found = {"model": (c.ci_low, c.ci_high, c.p_candidate_better,
                                       c.p_candidate_better > 0.5, secs)}
                    if c.likelihood != "gaussian":  # the linear (difference) model beside it
                        start = time.perf_counter()
                        g = compare(masked, a, b, human_col=human, auto_cols=autos,
                                    model_col="system", likelihood="gaussian",
                                    seed=int(rng.integers(1 << 30)))
                        found["model (linear)"] = (g.ci_low, g.ci_high, g.p_candidate_better,
                                                   g.p_candidate_better > 0.5,
                                                   time.perf_counter() - start)
                    for method, (lo, hi) in baselines(d_h, d_a, lab).items():
                        # symmetric intervals: the midpoint is the point estimate
                        found[method] = (lo, hi, 1.0 if lo > 0 else 0.0 if hi < 0 else 0.5,
                                         (lo + hi) / 2 > 0, 0.0)
                    for method, (lo, hi, p_better, picks_b, secs) in found.items():
                        sure_wrong = ((truth > 0 and p_better <= 0.05)
                                      or (truth < 0 and p_better >= 0.95))
                        rows.append({"task": name, "n": n, "method": method,
                                     "covered": lo <= truth <= hi, "width": hi - lo,
                                     "confident_wrong": bool(sure_wrong),
                                     "forced_right": (picks_b == (truth > 0)) if truth != 0
                                     else np.nan,
                                     "secs": secs, "key": (a, b, _)})
    table = pd.DataFrame(rows)
    summary = table.groupby(["task", "n", "method"], sort=False).agg(
        fits=("covered", "size"), coverage=("covered", "mean"), mean_width=("width", "mean"),
        confident_wrong=("confident_wrong", "mean"), forced_choice=("forced_right", "mean"),
        s_per_fit=("secs", "mean")).reset_index()
    ppi = summary[summary["method"] == "PPI++"].set_index(["task", "n"])["mean_width"]
    summary["width_vs_ppi++"] = (summary["mean_width"]
                                 / summary.set_index(["task", "n"]).index.map(ppi))
    print(f"pairs/task={'all' if args.full else args.pairs} "
          f"masks={20 if args.full else args.masks}; "
          "truth = full-human mean difference; nominal 0.95")
    for task in chosen:
        print(describe(*task))
    with pd.option_context("display.width", 200):
        print(summary.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
