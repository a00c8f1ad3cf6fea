"""Wall time of `compare` on 500 labels + 20,000 unlabelled rows: cold (compile) and warm.

    python benchmarks/bench_compare_timing.py [--labels 500] [--unlabelled 20000] [--groups 6]

Run it in a fresh process: the first call includes PyMC/nutpie compilation, the second reuses
the cached compiled model (same shapes, new data). Prints one table.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def frame(rng, labels: int, unlabelled: int, groups: int) -> pd.DataFrame:
    n_items = (labels + unlabelled) // 2
    item = np.repeat(np.arange(n_items), 2)
    model = np.tile(["incumbent", "candidate"], n_items)
    q = np.repeat(rng.normal(0, 1, n_items), 2) + 0.1 * (model == "candidate") + rng.normal(0, .7, 2 * n_items)
    labelled = np.repeat(np.arange(n_items) < labels // 2, 2)
    return pd.DataFrame({
        "item_id": item, "model": model, "region": np.repeat(rng.integers(0, groups, n_items), 2),
        "human": np.where(labelled, np.clip(np.round(3 + q), 1, 5), np.nan),
        "rouge": 1 / (1 + np.exp(-q)) + rng.normal(0, .1, 2 * n_items),
        "bert": q + rng.normal(0, 1, 2 * n_items),
        "style": rng.uniform(size=2 * n_items),
    })


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--labels", type=int, default=500)
    parser.add_argument("--unlabelled", type=int, default=20000)
    parser.add_argument("--groups", type=int, default=6)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    from pipeline.compare import compare  # import cost counts as cold

    rows = []
    for run in ("cold", "warm"):
        data = frame(rng, args.labels, args.unlabelled, args.groups)
        t0 = time.perf_counter()
        c = compare(data, "incumbent", "candidate", auto_cols=("rouge", "bert", "style"),
                    group_col="region", seed=1)
        rows.append({"run": run, "compare_s": time.perf_counter() - t0,
                     "since_start_s": time.perf_counter() - start, "n_labeled": c.n_labeled,
                     "n_unlabeled": c.n_unlabeled, "decision": c.decision,
                     **c.diagnostics})
    print(pd.DataFrame(rows).round(2).to_string(index=False))


if __name__ == "__main__":
    main()
