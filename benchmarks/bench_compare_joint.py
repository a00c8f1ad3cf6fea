"""Several candidates at once: the joint model (bias pooled across models) against a fit per
pair, PPI++ and human-only, on simulated data with a known truth.

    python benchmarks/bench_compare_joint.py [--datasets 100] [--models 4] [--items 2000]
                                             [--labelled 25 50] [--seed 0]
    python benchmarks/bench_compare_joint.py --real [--tasks NAME ...] [--sets 4] [--masks 4]
                                             [--labelled 25 50] [--models 4]
                                             [--metrics rouge_l [bertscore]] [--seed 0]

Each dataset: `items` prompts answered by `models` models (the first is the incumbent) whose
true quality gaps are drawn afresh (sd 0.2 around the incumbent); `labelled` prompts are
human-labelled for every model. Human score q = item difficulty + model gap + noise (sd 0.7).
Metric a1 = logistic(1.5 q) + N(0, 0.1), non-linear and saturating, in two scenarios:
  alike:       the metric treats every model alike;
  flatters:    a1 + 0.05 for the last model (the metric flatters it; as bench_compare_simulation);
  flatters-3x: a1 + 0.15 for the last model.
Truth: each candidate's mean human score minus the incumbent's over all items.
Prints one table per scenario and label count: coverage of the 95% interval over every
candidate's Δ, mean width relative to PPI++ (`ppi_py.ppi_mean_ci` on the paired differences
of a1, lambda tuned), and for P(best) (joint and pairwise fits only) how often its argmax is
the truly best model, the mean probability put on that model, and whether the probabilities
can be taken at their word: Brier score, expected calibration error (ECE, 5 bins), and of the
models given P(best) >= 0.9, how many per fit (sure_per_fit) and the share truly best
(sure_right; calibrated means >= 0.9).

--real: the same on real human judgments, with the tasks of bench_compare_real (SummEval
relevance / consistency, REALSumm litepyramid; `--tasks` keeps those whose name contains one of
the words; automated columns = `--metrics`, ROUGE-L F by default, BERTScore cached as there).
Per task, `--sets` random sets of `--models` systems (the first is the incumbent) x `--masks`
random masks of n items, labelled for every system of the set (all others NaN; the frame holds
every item). Truth per candidate: its full-human mean minus the incumbent's over all items; the
true best is the system of the set with the highest full-human mean. PPI++ gets the first
metric. Adds the confident-wrong rate: the interval excludes 0 on the wrong side of a non-zero
truth; s_per_set is the median seconds of one compare_many call (one set and mask).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

# run as a script, benchmarks/ is on sys.path
from bench_compare_real import baselines as interval_baselines
from bench_compare_real import describe, tasks

from pipeline.compare import compare_many

SCENARIOS = {"alike": 0.0, "flatters": 0.05, "flatters-3x": 0.15}  # a1 added to the last model


def simulate(rng, n_models: int, n_items: int, n_labelled: int, scenario: str):
    names = [chr(ord("A") + m) for m in range(n_models)]
    gaps = np.concatenate([[0.0], rng.normal(0, 0.2, n_models - 1)])
    difficulty = rng.normal(0, 1, n_items)
    labelled = np.zeros(n_items, bool)
    labelled[rng.choice(n_items, n_labelled, replace=False)] = True
    frames, means = [], {}
    for m, name in enumerate(names):
        q = difficulty + gaps[m] + rng.normal(0, 0.7, n_items)
        a1 = 1 / (1 + np.exp(-1.5 * q)) + rng.normal(0, 0.1, n_items)
        if m == n_models - 1:
            a1 = a1 + SCENARIOS[scenario]
        means[name] = q.mean()
        frames.append(pd.DataFrame({"item_id": np.arange(n_items), "model": name,
                                    "human": np.where(labelled, q, np.nan), "a1": a1}))
    truth = {name: means[name] - means[names[0]] for name in names[1:]}
    return pd.concat(frames, ignore_index=True), names, truth


def baselines(frame: pd.DataFrame, incumbent: str, candidate: str, human: str = "human",
              metric: str = "a1", item_col: str = "item_id", model_col: str = "model"):
    """PPI++ on the paired differences of `metric` and the human-only t-interval
    (bench_compare_real's), for the items labelled (`human` not NaN) for both models."""
    wide = frame.pivot(index=item_col, columns=model_col, values=[human, metric])
    d_h = (wide[human][candidate] - wide[human][incumbent]).to_numpy()
    d_a = (wide[metric][candidate] - wide[metric][incumbent]).to_numpy()
    keep = ~np.isnan(d_a)  # items both models answered
    d_h, d_a = d_h[keep], d_a[keep]
    return interval_baselines(d_h, d_a, ~np.isnan(d_h))


def p_best_calibration(fits: list[tuple[dict[str, float], str]]) -> dict[str, float]:
    """How far P(best) can be taken at its word, over fits of (P(best) per model, the truly
    best model): the multi-class Brier score (0 is perfect; always saying 1/K scores 1 − 1/K),
    the expected calibration error over 5 equal bins of P(best) (mean |stated − observed|,
    weighted by the share of (fit, model) pairs in the bin), and, of the models given
    P(best) ≥ 0.9, how many there were (per fit) and the share that truly were best."""
    stated = np.array([p for probs, _ in fits for p in probs.values()])
    right = np.array([name == best for probs, best in fits for name in probs])
    brier = np.mean([sum((p - (name == best)) ** 2 for name, p in probs.items())
                     for probs, best in fits])
    bins = np.minimum((stated * 5).astype(int), 4)
    ece = sum(abs(stated[bins == b].mean() - right[bins == b].mean()) * np.mean(bins == b)
              for b in range(5) if np.any(bins == b))
    sure = stated >= 0.9
    return {"brier": brier, "ece": ece, "sure_per_fit": sure.sum() / len(fits),
            "sure_right": right[sure].mean() if sure.any() else np.nan}


def run_cell(rng, args, scenario: str, n_labelled: int) -> pd.DataFrame:
    intervals: dict[str, list] = {}
    best: dict[str, list] = {}
    seconds: dict[str, list] = {}
    for k in range(args.datasets):
        frame, names, truth = simulate(rng, args.models, args.items, n_labelled, scenario)
        true_best = max(names, key=lambda n: truth.get(n, 0.0))
        for method, joint in (("joint model", True), ("model, a fit per pair", False)):
            start = time.perf_counter()
            result = compare_many(frame, names[0], names[1:], auto_cols=("a1",), joint=joint,
                                  seed=k)
            seconds.setdefault(method, []).append(time.perf_counter() - start)
            for c in result.comparisons:
                intervals.setdefault(method, []).append(
                    (c.ci_low, c.ci_high, truth[c.candidate]))
            best.setdefault(method, []).append((result.p_best, true_best))
        for name in names[1:]:
            for method, (lo, hi) in baselines(frame, names[0], name).items():
                intervals.setdefault(method, []).append((lo, hi, truth[name]))
    ppi_width = np.mean([hi - lo for lo, hi, _ in intervals["PPI++"]])
    rows = []
    for method, items in intervals.items():
        lo, hi, truth = map(np.array, zip(*items))
        row = {"scenario": scenario, "labelled": n_labelled, "method": method,
               "coverage": np.mean((lo <= truth) & (truth <= hi)),
               "width_vs_ppi++": np.mean(hi - lo) / ppi_width}
        if method in best:
            fits = best[method]
            row.update(best_is_argmax=np.mean([max(p, key=p.get) == b for p, b in fits]),
                       p_on_true_best=np.mean([p[b] for p, b in fits]),
                       **p_best_calibration(fits), s_per_dataset=np.median(seconds[method]))
        rows.append(row)
    return pd.DataFrame(rows)


def _real_tasks(args):
    metrics = list(dict.fromkeys(args.metrics))  # a metric named twice would be a duplicate column
    return tasks(False, metrics, only=args.tasks), describe


def run_real_task(rng, args, name: str, data: pd.DataFrame, human: str,
                  autos: tuple[str, ...]) -> pd.DataFrame:
    """Every (set, n, mask) of one real task: one row per method and candidate interval."""
    model_col, metric = "system", autos[0]
    frame_all = data[["item_id", model_col, human, *autos]]
    systems = sorted(frame_all[model_col].astype(str).unique())
    if len(systems) < args.models:
        raise SystemExit(f"{name}: {len(systems)} systems, fewer than --models {args.models}")
    rows, best = [], []
    for s in range(args.sets):
        names = [systems[i] for i in rng.choice(len(systems), args.models, replace=False)]
        frame = frame_all[frame_all[model_col].isin(names)]
        wide = frame.pivot(index="item_id", columns=model_col, values=human)[names]
        full = wide.mean()  # full-human mean of each system over all its items
        truth = {c: float((wide[c] - wide[names[0]]).mean()) for c in names[1:]}
        true_best = max(names, key=lambda m: full[m])
        complete = wide.index[wide.notna().all(axis=1)].to_numpy()  # labelled for every system
        for n in args.labelled:
            for _ in range(args.masks):
                chosen = rng.choice(complete, n, replace=False)
                masked = frame.copy()
                masked.loc[~masked["item_id"].isin(chosen), human] = np.nan
                seed = int(rng.integers(1 << 30))
                found = {}
                for method, joint in (("joint model", True), ("model, a fit per pair", False)):
                    start = time.perf_counter()
                    result = compare_many(masked, names[0], names[1:], joint=joint,
                                          auto_cols=autos, item_col="item_id",
                                          model_col=model_col, human_col=human, seed=seed)
                    secs = time.perf_counter() - start
                    if joint and result.method != "joint":
                        print(f"warning: {name} set {s}: joint fit fell back to {result.method}")
                    found[method] = {c.candidate: (c.ci_low, c.ci_high) for c in result.comparisons}
                    best.append({"task": name, "labelled": n, "method": method,
                                 "p_best": result.p_best, "true_best": true_best, "secs": secs})
                for c in names[1:]:
                    for method, interval in baselines(masked, names[0], c, human=human,
                                                      metric=metric, model_col=model_col).items():
                        found.setdefault(method, {})[c] = interval
                for method, intervals in found.items():
                    for c, (lo, hi) in intervals.items():
                        t = truth[c]
                        rows.append({"task": name, "labelled": n, "method": method,
                                     "covered": lo <= t <= hi, "width": hi - lo,
                                     "confident_wrong": (t > 0 and hi < 0) or (t < 0 and lo > 0)})
    table = pd.DataFrame(rows)
    summary = table.groupby(["task", "labelled", "method"], sort=False).agg(
        intervals=("covered", "size"), coverage=("covered", "mean"),
        width=("width", "mean"), confident_wrong=("confident_wrong", "mean")).reset_index()
    ppi = summary[summary["method"] == "PPI++"].set_index(["task", "labelled"])["width"]
    summary["width_vs_ppi++"] = summary["width"] / summary.set_index(
        ["task", "labelled"]).index.map(ppi)
    summary = summary.drop(columns="width")
    p_best = pd.DataFrame([
        {"task": task, "labelled": n, "method": method,
         "best_is_argmax": np.mean([max(f.p_best, key=f.p_best.get) == f.true_best
                                    for f in group.itertuples()]),
         "p_on_true_best": np.mean([f.p_best[f.true_best] for f in group.itertuples()]),
         **p_best_calibration(list(zip(group["p_best"], group["true_best"]))),
         "s_per_set": group["secs"].median()}
        for (task, n, method), group in pd.DataFrame(best).groupby(
            ["task", "labelled", "method"], sort=False)
    ])
    return summary.merge(p_best, on=["task", "labelled", "method"], how="left")


def main_real(args) -> None:
    rng = np.random.default_rng(args.seed)
    chosen, describe = _real_tasks(args)
    if not chosen:
        raise SystemExit(f"no task matches --tasks {args.tasks}")
    table = pd.concat([run_real_task(rng, args, *task) for task in chosen], ignore_index=True)
    fits = args.sets * args.masks
    print(f"real: models={args.models} (incumbent + {args.models - 1}), sets={args.sets} x "
          f"masks={args.masks} per task and n ({fits * (args.models - 1)} intervals); truth = "
          f"full-human mean difference over all items; nominal 0.95, coverage MC s.e. "
          f"~{np.sqrt(0.95 * 0.05 / fits):.3f} (intervals of one set are correlated)")
    for name, data, human, autos in chosen:
        print(f"{name}: {data['system'].nunique()} systems x {data['item_id'].nunique()} items; "
              + describe(name, data, human, autos).split(": ", 1)[1])
    with pd.option_context("display.width", 200):
        print(table.round(3).to_string(index=False))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", type=int, default=100)
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--labelled", type=int, nargs="+", default=[25, 50])
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    parser.add_argument("--seed", type=int, default=0)
    real = parser.add_argument_group("real data (--real)")
    real.add_argument("--real", action="store_true",
                      help="SummEval / REALSumm human judgments instead of simulated data")
    real.add_argument("--tasks", nargs="*", default=None,
                      help="only tasks whose name contains one of these")
    real.add_argument("--sets", type=int, default=4, help="random model sets per task")
    real.add_argument("--masks", type=int, default=4, help="random label masks per set and n")
    real.add_argument("--metrics", nargs="+", choices=["rouge_l", "bertscore"],
                      default=["rouge_l"], help="automated metrics; PPI++ gets the first")
    args = parser.parse_args()
    if args.real:
        main_real(args)
        return
    rng = np.random.default_rng(args.seed)
    table = pd.concat([run_cell(rng, args, scenario, n) for scenario in args.scenarios
                       for n in args.labelled], ignore_index=True)
    n_deltas = args.datasets * (args.models - 1)
    print(f"models={args.models} (incumbent + {args.models - 1}), items={args.items}, "
          f"datasets={args.datasets} per cell ({n_deltas} intervals); nominal 0.95, "
          f"coverage MC s.e. ~{np.sqrt(0.95 * 0.05 / args.datasets):.3f} (intervals of one "
          f"dataset are correlated)")
    print(table.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
