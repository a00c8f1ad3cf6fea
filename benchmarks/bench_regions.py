"""Per-region validity of the verdict: simulated data sets where one small region regresses.

    python benchmarks/bench_regions.py [--datasets 200] [--items 2000] [--labelled 300]
                                       [--margin 0.1] [--seed 0] [--cells 0 1 ...]
                                       [--response-quality 0.6] [--bias-prior-sd 2.5]

One data set: `items` requests in six regions (traffic shares 30/25/15/12/10/8 %; with the
small region at 3 % the largest region takes the other 5 points: 35/25/15/12/10/3 %), each
answered by the incumbent A and the candidate B. Per item a latent level ~ Normal(3, 1); per
response

    human  = level + effect + Normal(0, 0.6)
    metric = level + seen_effect + Normal(0, 0.4)

with A's effect 0 and B's effect +0.2 in five regions and -d in the small one. "sees":
seen_effect = effect; "blind": seen_effect = +0.2 in the small region too (the metric cannot
see the regression). `labelled` items, spread over the regions in proportion to traffic (both
responses of a labelled item labelled), the rest unlabelled. Truth per region: the mean over
ALL the region's items of human_B - human_A, before masking (finite population).

Cells: metric {sees, blind} x d {0.3, 1.2} x small share {8 %, 3 %}, and the no-regression
controls (d = -0.2: +0.2 everywhere) at 8 % and 3 %. The same data sets (data set k of every
cell drawn from `np.random.default_rng([seed, k])`) go to every method:

* model: ``pipeline.compare.compare(..., group_col="region", margin, prob=0.95, seed=k)``;
  the region's 95 % interval is ``groups[g]`` ci_low / ci_high, the verdict ``decision``.
* PPI++ per region: ``ppi_py.ppi_mean_ci`` (lam=None: power-tuned lambda, clipped to [0, 1])
  with Y = human difference B - A of the region's labelled items, Yhat = their metric
  difference, Yhat_unlabeled = the metric difference of the region's unlabelled items.
* PPI++ t: the same PPI++ estimates and standard errors with Student's t quantiles
  (df n_g - 1) instead of the normal one: PPI++ made as cautious as the other two at 9-24
  labels a region.
* human-only t per region: t-interval (df n_g - 1) on the region's labelled differences.
* model at 95 %, PPI++ at 95 %: each method's intervals widened or narrowed, region by region
  and overall, by the factor that makes them cover exactly 95 % of the cell's truths (an
  oracle calibration that uses the truths), then the same verdict rule: how often each would
  migrate at equal coverage, so that a method does not look more powerful for being too
  narrow.

Baselines' verdict, the model's intersection-union rule: migrate iff the one-sided 95 % lower
bound (lower end of the two-sided 90 % interval) of Delta exceeds -margin overall and in every
region; hold iff the 95 % upper bound is below -margin overall or in any region; otherwise
need_more_labels. Their overall Delta is the traffic-weighted sum of the regions' estimates
with variance sum w^2 var (PPI++: normal quantile; human-only: t with Welch-Satterthwaite df).

Columns (per cell and method; every rate over the cell's data sets, +- its Monte Carlo s.e.
sqrt(p (1 - p) / n)):
  cov_small     coverage of the small region's 95 % interval (it regresses except in controls)
  cov_mean      coverage averaged over the six regions (s.e. from the per-data-set means)
  cov_min       the lowest region's coverage, and which region
  wrong_mig     migrate while some region's truth < -margin (0 of n: 95 % upper bound 3 / n)
  migrate, hold, fit_failed (the model only; the baselines cannot fail)
  width_small   mean width of the small region's 95 % interval
  mig_vs_model  the model's migrate rate minus this method's, same data sets (paired s.e.)
Targets: wrong_mig <= 0.05 in every cell; every region's coverage >= 0.93 in every cell; in
the controls the model's migrate rate >= per-region PPI++'s (read at equal coverage too: the
"at 95 %" rows).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
import warnings

import numpy as np
import pandas as pd
from ppi_py import ppi_mean_ci
from scipy import stats

import pipeline.stats.compare as compare_module
from pipeline.compare import compare

REGIONS = ["r1", "r2", "r3", "r4", "r5", "small"]
SHARES = {0.08: [0.30, 0.25, 0.15, 0.12, 0.10, 0.08], 0.03: [0.35, 0.25, 0.15, 0.12, 0.10, 0.03]}
UP = 0.2  # the candidate's gain outside the regressing region
METHODS = ["model", "model at 95 %", "PPI++", "PPI++ t", "PPI++ at 95 %", "human-only t"]
Z95, Z90 = stats.norm.ppf(0.975), stats.norm.ppf(0.95)


def cells() -> list[tuple[str, float, float]]:
    """(metric, d, small share); d = -0.2 is a control (+0.2 everywhere, "sees" = "blind")."""
    out = [(metric, d, share) for metric in ("sees", "blind") for d in (0.3, 1.2)
           for share in (0.08, 0.03)]
    return out + [("control", -0.2, 0.08), ("control", -0.2, 0.03)]


def counts(n_items: int, shares: list[float]) -> np.ndarray:
    """Integer counts in proportion to ``shares`` summing to ``n_items`` (largest remainder)."""
    raw = np.asarray(shares) * n_items
    out = np.floor(raw).astype(int)
    out[np.argsort(raw - out)[::-1][: n_items - out.sum()]] += 1
    return out


def simulate(rng, metric: str, d: float, share: float, n_items: int, n_labelled: int,
             quality_sd: float = 0.0):
    """The long frame (NaN human score where unlabelled), per-region truth, items per region.
    ``quality_sd``: sd of a per-response quality that people and the metric both see, which
    gives the metric signal about the within-item difference (0: none, the issue's design)."""
    sizes = counts(n_items, SHARES[share])
    n_lab = counts(n_labelled, SHARES[share])
    region = np.repeat(np.arange(len(REGIONS)), sizes)
    small = region == len(REGIONS) - 1
    effect = np.where(small, -d, UP)
    seen = np.where(small, UP, effect) if metric == "blind" else effect
    level = rng.normal(3.0, 1.0, n_items)
    quality = {m: rng.normal(0, quality_sd, n_items) if quality_sd else 0.0 for m in "AB"}
    human = {"A": level + quality["A"] + rng.normal(0, 0.6, n_items),
             "B": level + effect + quality["B"] + rng.normal(0, 0.6, n_items)}
    auto = {"A": level + quality["A"] + rng.normal(0, 0.4, n_items),
            "B": level + seen + quality["B"] + rng.normal(0, 0.4, n_items)}
    diff = human["B"] - human["A"]
    truth = np.array([diff[region == g].mean() for g in range(len(REGIONS))])
    labelled = np.zeros(n_items, bool)
    start = 0
    for size, k in zip(sizes, n_lab):
        labelled[start + rng.choice(size, k, replace=False)] = True
        start += size
    frame = pd.concat([pd.DataFrame({"item_id": np.arange(n_items), "model": m,
                                     "region": np.asarray(REGIONS)[region],
                                     "human": np.where(labelled, human[m], np.nan),
                                     "metric": auto[m]}) for m in ("A", "B")],
                      ignore_index=True)
    return frame, truth, sizes, (region, labelled, diff, auto["B"] - auto["A"])


def verdict(est, se, df, weights, margin, scale=None):
    """Intersection-union rule on one-sided 95 % bounds, overall and per region. ``df`` None:
    normal quantiles, else t with ``df`` per region (overall: Welch-Satterthwaite).
    ``scale``: (per-region factors, overall factor) that widen the bounds (calibrated PPI++)."""
    q = stats.t.ppf(0.95, df) if df is not None else Z90
    overall = float(weights @ est)
    var = weights**2 * se**2
    if df is None:
        q_all = Z90
    else:  # Welch-Satterthwaite
        q_all = stats.t.ppf(0.95, var.sum() ** 2 / np.sum(var**2 / df))
    se_all = float(np.sqrt(var.sum()))
    if scale is not None:
        q, q_all = q * scale[0], q_all * scale[1]
    lower = np.append(est - q * se, overall - q_all * se_all)
    upper = np.append(est + q * se, overall + q_all * se_all)
    if np.all(lower > -margin):
        return "migrate"
    if np.any(upper < -margin):
        return "hold"
    return "need_more_labels"


def baselines(parts, weights, margin) -> dict[str, tuple]:
    """(95 % intervals per region, verdict, (estimates, standard errors)) of PPI++ (normal
    quantiles, as ppi_py gives them), PPI++ with t quantiles (df = labels - 1 per region)
    and human-only t, region by region."""
    region, labelled, d_h, d_a = parts
    ppi_est, ppi_se, t_est, t_se, t_df = [], [], [], [], []
    for g in range(len(REGIONS)):
        lab, unl = (region == g) & labelled, (region == g) & ~labelled
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lo, hi = ppi_mean_ci(d_h[lab], d_a[lab], d_a[unl], alpha=0.05, lam=None)
        lo, hi = float(np.ravel(lo)[0]), float(np.ravel(hi)[0])
        ppi_est.append((lo + hi) / 2)
        ppi_se.append((hi - lo) / (2 * Z95))
        n = int(lab.sum())
        t_est.append(d_h[lab].mean())
        t_se.append(d_h[lab].std(ddof=1) / np.sqrt(n))
        t_df.append(n - 1)
    ppi_est, ppi_se = np.array(ppi_est), np.array(ppi_se)
    t_est, t_se, t_df = np.array(t_est), np.array(t_se), np.array(t_df, float)
    t975 = stats.t.ppf(0.975, t_df)
    return {
        "PPI++": (np.column_stack([ppi_est - Z95 * ppi_se, ppi_est + Z95 * ppi_se]),
                  verdict(ppi_est, ppi_se, None, weights, margin), (ppi_est, ppi_se)),
        "PPI++ t": (np.column_stack([ppi_est - t975 * ppi_se, ppi_est + t975 * ppi_se]),
                    verdict(ppi_est, ppi_se, t_df, weights, margin), (ppi_est, ppi_se)),
        "human-only t": (np.column_stack([t_est - t975 * t_se, t_est + t975 * t_se]),
                         verdict(t_est, t_se, t_df, weights, margin), (t_est, t_se)),
    }


def calibrated(records: list[dict], weights, margin) -> list[dict]:
    """A method's intervals (centre and half-width / 1.96 as estimate and s.e.) widened or
    narrowed, region by region and overall, to exactly 95 % coverage of the truth over this
    cell's data sets (an oracle calibration: it uses the truths; the overall interval is the
    traffic-weighted sum of the regions'), with the model's verdict rule on the rescaled
    one-sided bounds: how each would decide at equal coverage."""
    est = np.array([r["est"] for r in records])
    se = np.array([r["se"] for r in records])
    truth = np.array([r["truth"] for r in records])
    factor = np.quantile(np.abs(est - truth) / (Z95 * se), 0.95, axis=0)  # per region
    overall_est, overall_truth = est @ weights, truth @ weights
    overall_se = np.sqrt((se**2) @ weights**2)
    overall = float(np.quantile(np.abs(overall_est - overall_truth) / (Z95 * overall_se), 0.95))
    return [{"ci": np.column_stack([e - factor * Z95 * s_, e + factor * Z95 * s_]),
             "truth": t, "decision": verdict(e, s_, None, weights, margin, (factor, overall))}
            for e, s_, t in zip(est, se, truth)]


def rate(hits) -> str:
    hits = np.asarray(hits, float)
    p = hits.mean()
    return f"{p:.3f}±{np.sqrt(p * (1 - p) / len(hits)):.3f}"


def paired(diff) -> str:
    diff = np.asarray(diff, float)
    return f"{diff.mean():+.3f}±{diff.std(ddof=1) / np.sqrt(len(diff)):.3f}"


def summarise(label: str, records: dict[str, list], margin: float) -> list[dict]:
    rows = []
    model_mig = np.array([r["decision"] == "migrate" for r in records["model"]], float)
    for method in METHODS:
        recs = records[method]
        covered = np.array([(r["ci"][:, 0] <= r["truth"]) & (r["truth"] <= r["ci"][:, 1])
                            for r in recs])  # data sets x regions
        decisions = np.array([r["decision"] for r in recs])
        regress = np.array([(r["truth"] < -margin).any() for r in recs])
        per_region = covered.mean(0)
        worst = int(np.argmin(per_region))
        mean_cov = covered.mean(1)
        rows.append({
            "cell": label, "method": method,
            "cov_small": rate(covered[:, -1]),
            "cov_mean": f"{mean_cov.mean():.3f}±{mean_cov.std(ddof=1) / np.sqrt(len(recs)):.3f}",
            "cov_min": f"{rate(covered[:, worst])} {REGIONS[worst]}",
            "wrong_mig": rate((decisions == "migrate") & regress),
            "migrate": rate(decisions == "migrate"),
            "hold": rate(decisions == "hold"),
            "fit_failed": rate(decisions == "fit_failed") if method == "model" else "-",
            "width_small": f"{np.mean([r['ci'][-1, 1] - r['ci'][-1, 0] for r in recs]):.3f}",
            "mig_vs_model": ("-" if method == "model"
                             else paired(model_mig - (decisions == "migrate"))),
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", type=int, default=200)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--labelled", type=int, default=300)
    parser.add_argument("--margin", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--response-quality", type=float, default=0.0,
                        help="sd of a per-response quality people and the metric both see "
                             "(0: the metric has no signal on the within-item difference)")
    parser.add_argument("--bias-prior-sd", type=float, default=None,
                        help="prior sd of each region's bias (default: the model's, "
                             "pipeline.stats.compare.BIAS_PRIOR_SD = 2.5)")
    parser.add_argument("--cells", type=int, nargs="*", default=None,
                        help="indices of the cells to run (default: all 10)")
    args = parser.parse_args()

    if args.bias_prior_sd is not None:  # read when the model is first compiled
        compare_module.BIAS_PRIOR_SD = args.bias_prior_sd
    all_cells = cells()
    chosen = [all_cells[i] for i in (args.cells if args.cells is not None
                                     else range(len(all_cells)))]
    began = time.time()
    print(f"$ python {' '.join(shlex.quote(a) for a in sys.argv)}")
    print(f"started {time.strftime('%Y-%m-%d %H:%M:%S')}; datasets/cell={args.datasets} "
          f"items={args.items} labelled items={args.labelled} margin={args.margin}; data set k "
          f"of every cell from np.random.default_rng([{args.seed}, k]), compare seed=k, "
          f"k = 0..{args.datasets - 1}; response quality sd {args.response_quality:g}; "
          f"bias prior sd {compare_module.BIAS_PRIOR_SD:g}; "
          "nominal coverage 0.95; ± = Monte Carlo s.e.",
          flush=True)
    pd.set_option("display.width", 250)
    fit_seconds, all_rows = [], []
    for metric, d, share in chosen:
        label = f"{metric} d={d:g} small={share:.0%}"
        cell_start = time.time()
        records: dict[str, list] = {m: [] for m in METHODS}
        for k in range(args.datasets):
            rng = np.random.default_rng([args.seed, k])
            frame, truth, sizes, parts = simulate(rng, metric, d, share, args.items,
                                                  args.labelled, args.response_quality)
            weights = sizes / sizes.sum()
            start = time.perf_counter()
            c = compare(frame, "A", "B", human_col="human", auto_cols=("metric",),
                        item_col="item_id", model_col="model", group_col="region",
                        margin=args.margin, prob=0.95, seed=k)
            fit_seconds.append(time.perf_counter() - start)
            ci = np.array([[c.groups[g]["ci_low"], c.groups[g]["ci_high"]] for g in REGIONS])
            records["model"].append({"ci": ci, "truth": truth, "decision": c.decision,
                                     "est": ci.mean(1), "se": (ci[:, 1] - ci[:, 0]) / (2 * Z95)})
            for name, (intervals, decision, (est, se)) in baselines(parts, weights,
                                                                     args.margin).items():
                records[name].append({"ci": intervals, "truth": truth, "decision": decision,
                                      "est": est, "se": se})
        for method in ("model", "PPI++"):
            records[f"{method} at 95 %"] = calibrated(records[method], weights, args.margin)
        rows = summarise(label, records, args.margin)
        all_rows += rows
        print(f"\n{label}: {time.time() - cell_start:.0f} s", flush=True)
        print(pd.DataFrame(rows).drop(columns="cell").to_string(index=False), flush=True)
    total = time.time() - began
    print(f"\nall cells ({len(chosen)} x {args.datasets} data sets): wall {total / 60:.1f} min, "
          f"model {np.mean(fit_seconds[1:] or fit_seconds):.2f} s per warm fit "
          f"(first fit {fit_seconds[0]:.1f} s)")
    print(pd.DataFrame(all_rows).to_string(index=False), flush=True)


if __name__ == "__main__":
    main()
