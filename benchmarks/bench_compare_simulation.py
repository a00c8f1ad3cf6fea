"""Coverage and width of the 95% interval for Δ on simulated data with a known truth.

    python benchmarks/bench_compare_simulation.py [--datasets 200] [--items 2000] [--labelled 50]
                                                  [--binary]

Each dataset: `items` prompts answered by models A (incumbent) and B (candidate), in 4 regions
whose true B−A gap differs; `labelled` prompts are human-labelled for both models. Human score
q = item difficulty + model/region effect + noise. Metrics:
  a1 = logistic(1.5 q) + noise + 0.05 for B  (non-linear, saturating link; flatters B)
  a2 = q + N(0, 1)                            (weak, linear)
With --binary the human label is 1[q > 0] (Bernoulli-logit model).
Truth: mean human score B − A over all items of the dataset (finite population).
Methods: this model (a1 only; a1+a2 with region pooling), PPI++ (`ppi_py.ppi_mean_ci` on the
paired differences of a1, lambda tuned), human-only t-interval on the labelled differences.
Prints one table: coverage, mean width, width relative to PPI++, mean |error|, seconds per fit.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

# run as a script, benchmarks/ is on sys.path
from bench_compare_real import baselines as interval_baselines

from pipeline.compare import compare


def simulate(rng, n_items: int, n_labelled: int,
             binary: bool = False) -> tuple[pd.DataFrame, float]:
    region = rng.integers(0, 4, n_items)
    gap = np.array([0.0, 0.15, -0.1, 0.3])[region] + rng.normal(0, 0.1)
    difficulty = rng.normal(0, 1, n_items)
    q_a = difficulty + rng.normal(0, 0.7, n_items)
    q_b = difficulty + gap + rng.normal(0, 0.7, n_items)
    rows = []
    for model, q in (("A", q_a), ("B", q_b)):
        a1 = (1 / (1 + np.exp(-1.5 * q)) + rng.normal(0, 0.1, n_items)
              + (0.05 if model == "B" else 0))
        a2 = q + rng.normal(0, 1.0, n_items)
        human = (q > 0).astype(float) if binary else q
        rows.append(pd.DataFrame({"item_id": np.arange(n_items), "model": model,
                                  "region": region, "human": human, "a1": a1, "a2": a2}))
    frame = pd.concat(rows, ignore_index=True)
    truth = float(frame["human"][frame["model"] == "B"].mean()
                  - frame["human"][frame["model"] == "A"].mean())
    labelled = np.zeros(n_items, bool)
    labelled[rng.choice(n_items, n_labelled, replace=False)] = True
    frame.loc[~np.tile(labelled, 2), "human"] = np.nan
    return frame, truth


def baselines(frame: pd.DataFrame, metric: str) -> dict[str, tuple]:
    wide = frame.pivot(index="item_id", columns="model", values=["human", metric])
    d_h = (wide["human"]["B"] - wide["human"]["A"]).to_numpy()
    d_a = (wide[metric]["B"] - wide[metric]["A"]).to_numpy()
    intervals = interval_baselines(d_h, d_a, ~np.isnan(d_h))
    return {"PPI++ (a1)": intervals["PPI++"], "human-only t": intervals["human-only t"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", type=int, default=200)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--labelled", type=int, default=50)
    parser.add_argument("--binary", action="store_true", help="human label = 1[q > 0] (Bernoulli)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    results: dict[str, list] = {}
    for k in range(args.datasets):
        frame, truth = simulate(rng, args.items, args.labelled, args.binary)
        intervals = {}
        for name, kwargs in (("model (a1)", {"auto_cols": ("a1",)}),
                             ("model (a1+a2, regions)", {"auto_cols": ("a1", "a2"),
                                                         "group_col": "region"})):
            start = time.perf_counter()
            c = compare(frame, "A", "B", seed=k, **kwargs)
            intervals[name] = (c.ci_low, c.ci_high, time.perf_counter() - start, c.delta_mean)
        for name, (lo, hi) in baselines(frame, "a1").items():
            intervals[name] = (lo, hi, 0.0, (lo + hi) / 2)
        for name, (lo, hi, secs, centre) in intervals.items():
            results.setdefault(name, []).append(
                (lo <= truth <= hi, hi - lo, abs(centre - truth), secs))
    ppi_width = np.mean([r[1] for r in results["PPI++ (a1)"]])
    table = pd.DataFrame([
        {"method": name, "coverage": np.mean([r[0] for r in rs]),
         "mean_width": np.mean([r[1] for r in rs]),
         "width_vs_ppi++": np.mean([r[1] for r in rs]) / ppi_width,
         "mean_abs_err": np.mean([r[2] for r in rs]),
         "s_per_fit": np.mean([r[3] for r in rs[1:]]) if len(rs) > 1 else rs[0][3]}
        for name, rs in results.items()
    ])
    print(f"{'binary' if args.binary else 'continuous'} human scale; "
          f"datasets={args.datasets} items={args.items} labelled items={args.labelled} "
          f"(labels={2 * args.labelled}); nominal 0.95; coverage MC s.e. "
          f"~{np.sqrt(0.95 * 0.05 / args.datasets):.3f}")
    print(table.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
