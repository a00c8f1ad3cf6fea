"""Cascade threshold tuning: the Markov-copula model (``pipeline.cascade``) against grid search
over threshold quantiles and Bayesian optimisation (the ``bayesian-optimization`` package).

Every repetition draws one train/test split; the three methods are tuned on the same training
items, for the same cost weights (lambda), and evaluated on the same held-out items. Each method's
test points (mean cost, error rate), one per lambda, make its test error-cost curve (lower
envelope: the best error at or below each cost, linear between points); its area is taken over
the cost range all three methods reach in that repetition and divided by the range's width (so
"AUC" reads as a mean error rate). Reported: mean AUC per method, the model's relative reduction
of the area against each baseline (100 * (1 - AUC_model / AUC_baseline), mean over repetitions
with its standard error) and how often the model's area is the smaller.

On simulated data an ``oracle`` is run beside them (not a competitor): the same model with the
true parameters, tuned for the same weights and measured on the same test items. Its margin over
a baseline is the most any tuner could gain there; the model's shortfall from it is what
estimating the parameters from the training items costs.

Data:
* ``sim2`` / ``sim3``: simulated from known truth (``simulate_cascade``: logit-normal
  confidences, a Gumbel(theta = 2) copula between models 1 and 2 and a Gaussian(rho = 0.5) one
  between 2 and 3, logistic correctness, costs 1 / 4 / 15); a fresh training set (1,000 items
  in the full regime) and 5,000 test items per repetition.
* ``demo2`` / ``demo3``: the offline demo's models (incumbent-v1 -> candidate-a and
  incumbent-v1 -> candidate-b -> candidate-a) on 4,000 requests of the demo world: confidence =
  the mean token log-probability the offline provider returns (``pipeline.demo.confidence``),
  correct = the answer's true correctness >= 4 (on a request that should be refused: it was);
  the difficulty of a request is shared by the models. Costs 1 / 4 / 15 assigned. A split is
  random: 1,000 training items (full) or 30, the rest for test.
* ``real2`` / ``real3``: SummEval (shared/datasets/summeval.parquet, 100 articles): systems
  M11 -> M17 and M11 -> M10 -> M17; correct = mean expert consistency >= 4.5; confidence = ROUGE-L
  precision of the summary against its source article (reference-free, so available when the
  request is served; a grounding score, not the model's own probability; ties at 1.0 for copied
  summaries); costs 1 / 4 / 15 are assigned, SummEval has none. A split is random: 50 / 50 in the
  full regime, 30 / 70 in the small one.

One process, no multiprocessing. ``--reps-full``, ``--reps-small``, ``--weights``,
``--bo-iter``, ``--settings`` size a run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
import warnings
from functools import partial
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
from bayes_opt import BayesianOptimization, acquisition

from pipeline.cascade import evaluate_cascade, fit_cascade
from pipeline.stats.cascade import (
    Copula,
    Marginal,
    assemble_cascade,
    cascade_outcome,
    simulate_cascade,
)

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
TRUTH = dict(means=[0.3, 1.0, 1.8], sds=[1.2, 1.1, 0.9], intercepts=[-0.3, 0.2, 0.9],
             slopes=[1.5, 1.2, 1.0], costs=[1.0, 4.0, 15.0])
COPULAS = [Copula("gumbel", 2.0), Copula("gaussian", 0.5)]
REAL_CASCADES = {"real2": ["M11", "M17"], "real3": ["M11", "M10", "M17"],
                 "demo2": ["incumbent-v1", "candidate-a"],
                 "demo3": ["incumbent-v1", "candidate-b", "candidate-a"]}
COSTS = [1.0, 4.0, 15.0]
DEMO_REQUESTS = 4000
SETTINGS = ["sim2", "sim3", "demo2", "demo3", "real2", "real3"]


# --- data -------------------------------------------------------------------------------------

def summeval_frame() -> pd.DataFrame:
    from pipeline.scoring import rouge_l

    data = pd.read_parquet(DATASETS / "summeval.parquet")
    grounding = rouge_l(data["response"].tolist(), data["source"].tolist())["precision"]
    return pd.DataFrame({"item_id": data["item_id"], "model": data["system"],
                         "confidence": grounding.to_numpy(),
                         "correct": (data["consistency"] >= 4.5).astype(int)})


def demo_frame() -> pd.DataFrame:
    """The demo models' answers to the demo world's requests: mean token log-probability as
    the offline provider returns it, and whether the answer is truly right."""
    from pipeline.demo import world
    from pipeline.demo.confidence import token_logprobs

    traffic = world.generate_traffic(DEMO_REQUESTS, seed=11, logged_model=None)
    rows = []
    for request in traffic.itertuples():
        for model in REAL_CASCADES["demo3"]:
            answer = world.answer(model, request.system, request.prompt)
            tokens = max(1, len(answer.text.split()))
            truth = answer.truth
            right = truth["refusal"] == 1.0 if truth["correctness"] is None else \
                truth["correctness"] >= 4
            rows.append({"item_id": request.request_id, "model": model, "correct": int(right),
                         "confidence": float(np.mean(token_logprobs(
                             model, request.system, request.prompt, tokens)))})
    return pd.DataFrame(rows)


def splits(setting: str, n_train: int | None, rng: np.random.Generator,
           data: dict[str, pd.DataFrame]):
    """(train, test, models) for one repetition."""
    if setting.startswith("sim"):
        k = int(setting[-1])
        truth = {key: value[:k] for key, value in TRUTH.items()}
        seed = int(rng.integers(2**31))
        train = simulate_cascade(n_train or 1000, copulas=COPULAS[:k - 1], seed=seed, **truth)
        test = simulate_cascade(5000, copulas=COPULAS[:k - 1], seed=seed + 1, **truth)
        return train, test, [f"m{j}" for j in range(k)]
    models = REAL_CASCADES[setting]
    source = data["demo" if setting.startswith("demo") else "real"]
    frame = source[source["model"].isin(models)].copy()
    frame["cost"] = frame["model"].map(dict(zip(models, COSTS)))
    items = rng.permutation(frame["item_id"].unique())
    full = 1000 if setting.startswith("demo") else len(items) // 2
    train_items = set(items[:n_train or full])
    in_train = frame["item_id"].isin(train_items)
    return frame[in_train], frame[~in_train], models


# --- the three tuners -------------------------------------------------------------------------

def _wide(frame: pd.DataFrame, models) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    wide = frame.pivot(index="item_id", columns="model")
    return tuple(wide[c][list(models)].to_numpy(float) for c in ("confidence", "correct", "cost"))


def _quantile_thresholds(confidence: np.ndarray, levels) -> np.ndarray:
    """Threshold j at quantile ``levels[j]`` of model j's training confidences (1 = defer all)."""
    return np.array([np.inf if q >= 1 else np.quantile(confidence[:, j], q)
                     for j, q in enumerate(levels)])


def tune_grid(train, models, weights, points: int) -> list[np.ndarray]:
    confidence, correct, cost = _wide(train, models)
    levels = np.linspace(0.0, 1.0, points)
    candidates = [_quantile_thresholds(confidence, q)
                  for q in product(levels, repeat=len(models) - 1)]
    outcomes = [cascade_outcome(confidence, correct, cost, t) for t in candidates]
    error = np.array([o.error_rate for o in outcomes])
    mean_cost = np.array([o.mean_cost for o in outcomes])
    return [candidates[int(np.argmin(error + w * mean_cost))] for w in weights]


def tune_bo(train, models, weights, init: int, iters: int, seed: int,
            acq_random: int) -> list[np.ndarray]:
    """One BO run per cost weight over the thresholds' quantile levels (the package's GP and
    UCB acquisition; the acquisition maximised from ``acq_random`` random points and 2 L-BFGS-B
    starts instead of the package's 10,000 and 10, for time)."""
    confidence, correct, cost = _wide(train, models)
    names = [f"q{j}" for j in range(len(models) - 1)]
    chosen = []
    for w in weights:
        def target(w=w, **q):
            o = cascade_outcome(confidence, correct, cost,
                                _quantile_thresholds(confidence, [q[n] for n in names]))
            return -(o.error_rate + w * o.mean_cost)

        acq = acquisition.UpperConfidenceBound(random_state=seed)
        acq.suggest = partial(acq.suggest, n_random=acq_random, n_smart=2)
        bo = BayesianOptimization(target, {n: (0.0, 1.0) for n in names}, acquisition_function=acq,
                                  random_state=seed, verbose=0, allow_duplicate_points=True)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            bo.maximize(init_points=init, n_iter=iters)
        chosen.append(_quantile_thresholds(confidence, [bo.max["params"][n] for n in names]))
    return chosen


def tune_model(train, models, weights) -> list[np.ndarray]:
    fit = fit_cascade(train, models, cost_weights=weights)
    return _in_order(fit, weights)


def _in_order(fit, weights) -> list[np.ndarray]:
    """The fit's thresholds in the order of ``weights`` (its curve is sorted by weight)."""
    by_weight = dict(zip(fit.curve["cost_weight"].astype(float), fit.curve["thresholds"]))
    return [np.asarray(by_weight[float(w)], dtype=float) for w in weights]


def tune_oracle(train, models, weights) -> list[np.ndarray]:
    """The model with the simulation's true parameters (the training items are not used)."""
    k = len(models)
    empty = np.zeros(0)
    marginals = [Marginal("probability", empty, empty, empty, np.ones(1), np.array([mean]),
                          np.array([sd]), intercept, slope, -1e6, 1e6)
                 for mean, sd, intercept, slope in zip(TRUTH["means"][:k], TRUTH["sds"][:k],
                                                       TRUTH["intercepts"][:k],
                                                       TRUTH["slopes"][:k])]
    fit = assemble_cascade(models, marginals, COPULAS[:k - 1], TRUTH["costs"][:k],
                           cost_weights=weights)
    return _in_order(fit, weights)


def cost_weights(train, models, count: int) -> np.ndarray:
    """0 and a log sweep around the training exchange rate of 'first model only' against 'last
    model only' (error saved per unit of cost), shared by the three tuners."""
    confidence, correct, cost = _wide(train, models)
    k = len(models)
    first = cascade_outcome(confidence, correct, cost, np.full(k - 1, -np.inf))
    last = cascade_outcome(confidence, correct, cost, np.full(k - 1, np.inf))
    rate = abs(first.error_rate - last.error_rate) / (last.mean_cost - first.mean_cost)
    rate = rate if rate > 0 else 1.0 / (last.mean_cost - first.mean_cost)
    return np.concatenate([[0.0], rate * np.geomspace(0.05, 20.0, count - 1)])


# --- the curve's area --------------------------------------------------------------------------

def envelope(points: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Lower envelope of (cost, error) points, linear between them, at the costs of ``grid``."""
    points = points[np.argsort(points[:, 0], kind="stable")]
    best = np.minimum.accumulate(points[:, 1])
    return np.interp(grid, points[:, 0], best)


def areas(curves: dict[str, np.ndarray],
          compared: tuple[str, ...] = ("model", "grid", "BO")) -> dict[str, float] | None:
    """Each curve's area over the cost range the ``compared`` methods all reach (the oracle
    leaves the range alone), divided by its width."""
    lo = max(curves[name][:, 0].min() for name in compared)
    hi = min(curves[name][:, 0].max() for name in compared)
    if hi - lo < 1e-9:
        return None
    grid = np.linspace(lo, hi, 401)
    return {name: float(np.trapezoid(envelope(c, grid), grid) / (hi - lo))
            for name, c in curves.items()}


# --- the run -----------------------------------------------------------------------------------

def run(args) -> pd.DataFrame:
    data = {}
    if any(s.startswith("real") for s in args.settings):
        data["real"] = summeval_frame()
    if any(s.startswith("demo") for s in args.settings):
        data["demo"] = demo_frame()
    rng = np.random.default_rng(args.seed)
    rows = []
    for setting in args.settings:
        for regime, n_train, reps in (("full", None, args.reps_full),
                                      (f"{args.n_small} items", args.n_small, args.reps_small)):
            for rep in range(reps):
                train, test, models = splits(setting, n_train, rng, data)
                weights = cost_weights(train, models, args.weights)
                seconds, curves = {}, {}
                tuners = {
                    "model": (tune_model, ()),
                    "grid": (tune_grid, (args.grid,)),
                    "BO": (tune_bo, (args.bo_init, args.bo_iter, rep, args.bo_acq))}
                if setting.startswith("sim"):
                    tuners["oracle"] = (tune_oracle, ())
                for name, (tune, extra) in tuners.items():
                    start = time.perf_counter()
                    thresholds = tune(train, models, weights, *extra)
                    seconds[name] = time.perf_counter() - start
                    outcomes = [evaluate_cascade(test, models, t) for t in thresholds]
                    curves[name] = np.array([[o.mean_cost, o.error_rate] for o in outcomes])
                area = areas(curves)
                if area is None:
                    continue
                rows.append({"setting": setting, "regime": regime, "rep": rep,
                             "n_train": train["item_id"].nunique(),
                             "n_test": test["item_id"].nunique(), **area,
                             **{f"s_{n}": s for n, s in seconds.items()}})
    return pd.DataFrame(rows)


def _relative(better: pd.Series, base: pd.Series) -> str:
    rel = 100 * (1 - better / base)
    return f"{rel.mean():+.1f} ± {rel.std(ddof=1) / np.sqrt(len(rel)):.1f}"


def summary(results: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (setting, regime), g in results.groupby(["setting", "regime"], sort=False):
        row = {"setting": setting, "regime": regime, "reps": len(g),
               "n_train": int(g["n_train"].iloc[0]), "n_test": int(g["n_test"].iloc[0]),
               "AUC model": g["model"].mean(), "AUC grid": g["grid"].mean(),
               "AUC BO": g["BO"].mean()}
        for base in ("grid", "BO"):
            row[f"vs {base} %"] = _relative(g["model"], g[base])
            row[f"wins vs {base}"] = f"{(g['model'] < g[base] - 1e-12).mean():.2f}"
        oracle = g["oracle"] if "oracle" in g and g["oracle"].notna().all() else None
        for base in ("grid", "BO"):
            row[f"oracle vs {base} %"] = "" if oracle is None else _relative(oracle, g[base])
        row["s/fit model|grid|BO"] = "|".join(f"{g[f's_{n}'].mean():.2f}"
                                              for n in ("model", "grid", "BO"))
        out.append(row)
    return pd.DataFrame(out)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--settings", nargs="+", default=SETTINGS, choices=SETTINGS)
    parser.add_argument("--reps-full", type=int, default=20)
    parser.add_argument("--reps-small", type=int, default=40)
    parser.add_argument("--n-small", type=int, default=30)
    parser.add_argument("--weights", type=int, default=6, help="cost weights per curve")
    parser.add_argument("--grid", type=int, default=21, help="quantile levels per threshold")
    parser.add_argument("--bo-init", type=int, default=4)
    parser.add_argument("--bo-iter", type=int, default=10)
    parser.add_argument("--bo-acq", type=int, default=1000,
                        help="random points for the acquisition's maximisation (package: 10000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    results = run(args)
    print(f"cascade tuning; {args.weights} cost weights per curve; grid {args.grid} quantile "
          f"levels per threshold; BO {args.bo_init} + {args.bo_iter} evaluations per weight "
          f"(acquisition on {args.bo_acq} random points); "
          "AUC = mean test error over the common cost range (lower is better); "
          "vs X = 100 * (1 - AUC_model / AUC_X), mean ± s.e. over repetitions")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(summary(results).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"total {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()
