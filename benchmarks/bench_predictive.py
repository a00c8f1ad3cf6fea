"""Single-pass per-row predictive moments vs the brute force over posterior draws.

    python benchmarks/bench_predictive.py [--rows 1000000] [--metrics 3] [--draws 2000]
                                          [--brute-rows 50000]

`pipeline.predictive.predictive_moments` (posterior moments of (beta, a), one pass over the
rows) against `moments_by_draws` (every (row, draw) pair: a rows x draws matrix per chunk of
2,000 rows, BLAS matmul, then mean / sd over the draws). The brute force runs on the first
`--brute-rows` rows and is extrapolated linearly to all rows (its cost is linear in rows);
`--brute-rows` equal to `--rows` times it in full. Max abs difference on those rows is shown.
identity: Gaussian link with a noise sd; logit: Bernoulli link (20-node Gauss-Hermite).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from pipeline.predictive import moments_by_draws, predictive_moments


def posterior_draws(rng, n_metrics: int, n_draws: int):
    cov = 0.01 * (np.eye(n_metrics) + 0.5)
    coef = rng.multivariate_normal(np.linspace(0.8, -0.4, n_metrics), cov, size=n_draws)
    intercept = 0.1 + 0.3 * (coef[:, 0] - coef[:, 0].mean()) + rng.normal(0, 0.1, n_draws)
    sigma = np.abs(rng.normal(0.6, 0.03, n_draws))
    return coef, intercept, sigma


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--metrics", type=int, default=3)
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--brute-rows", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    X = rng.normal(size=(args.rows, args.metrics))
    coef, intercept, sigma = posterior_draws(rng, args.metrics, args.draws)
    sub = X[: args.brute_rows]
    rows = []
    for link in ("identity", "logit"):
        noise = sigma if link == "identity" else None
        fast, fast_s = timed(predictive_moments, X, coef, intercept, noise, link=link)
        brute, brute_s = timed(moments_by_draws, sub, coef, intercept, noise, link=link)
        brute_all_s = brute_s * args.rows / len(sub)
        diff = max(float(np.abs(f[: len(sub)] - b).max()) for f, b in zip(fast, brute))
        rows.append({"link": link, "rows": args.rows, "metrics": args.metrics,
                     "draws": args.draws, "single_pass_s": fast_s,
                     "brute_force_s": brute_all_s,
                     "brute_measured_rows": len(sub), "speedup": brute_all_s / fast_s,
                     "max_abs_diff": diff})
    print("single pass vs brute force over draws (brute force timed on brute_measured_rows, "
          "extrapolated linearly to rows)")
    with pd.option_context("display.width", 200):
        print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
