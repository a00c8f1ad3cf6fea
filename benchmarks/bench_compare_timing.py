"""Wall time of `compare` on 500 labels + 20,000 unlabelled rows: cold (compile) and warm.

    python benchmarks/bench_compare_timing.py [--labels 500] [--unlabelled 20000] [--groups 6]
                                              [--models 2]

With `--models` K > 2 the rows are spread over an incumbent and K − 1 candidates, every
labelled item labelled for all of them, and `compare_many` fits them jointly.

Run it in a fresh process: the first call includes PyMC/nutpie compilation, the second reuses
the cached compiled model (same shapes, new data). Prints one table.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def frame(rng, labels: int, unlabelled: int, groups: int, n_models: int) -> pd.DataFrame:
    n_items = (labels + unlabelled) // n_models
    names = ["incumbent"] + [f"candidate-{k}" for k in range(1, n_models)]
    item = np.repeat(np.arange(n_items), n_models)
    model = np.tile(names, n_items)
    gap = np.tile(0.1 * np.arange(n_models), n_items)
    q = np.repeat(rng.normal(0, 1, n_items), n_models) + gap + rng.normal(0, .7, len(item))
    labelled = np.repeat(np.arange(n_items) < labels // n_models, n_models)
    return pd.DataFrame({
        "item_id": item, "model": model,
        "region": np.repeat(rng.integers(0, groups, n_items), n_models),
        "human": np.where(labelled, np.clip(np.round(3 + q), 1, 5), np.nan),
        "rouge": 1 / (1 + np.exp(-q)) + rng.normal(0, .1, len(item)),
        "bert": q + rng.normal(0, 1, len(item)),
        "style": rng.uniform(size=len(item)),
    })


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--labels", type=int, default=500)
    parser.add_argument("--unlabelled", type=int, default=20000)
    parser.add_argument("--groups", type=int, default=6)
    parser.add_argument("--models", type=int, default=2)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    from pipeline.compare import compare, compare_many  # import cost counts as cold

    rows = []
    for run in ("cold", "warm"):
        data = frame(rng, args.labels, args.unlabelled, args.groups, args.models)
        options = dict(auto_cols=("rouge", "bert", "style"), group_col="region", seed=1)
        t0 = time.perf_counter()
        if args.models == 2:
            c = compare(data, "incumbent", "candidate-1", **options)
        else:
            names = sorted(set(data["model"]) - {"incumbent"})
            c = compare_many(data, "incumbent", names, **options).comparisons[0]
        rows.append({"run": run, "compare_s": time.perf_counter() - t0,
                     "since_start_s": time.perf_counter() - start, "models": args.models,
                     "n_labeled": c.n_labeled, "n_unlabeled": c.n_unlabeled,
                     "decision": c.decision, **c.diagnostics})
    print(pd.DataFrame(rows).round(2).to_string(index=False))


if __name__ == "__main__":
    main()
