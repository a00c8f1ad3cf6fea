"""Several candidates against one incumbent in one model: each candidate's Δ, and P(best) from
their joint posterior. Plain Python (no Dagster); reached through
``pipeline.stats.compare.compare_many``.

Why one model rather than a fit per pair: every Δ shares the incumbent's labels, so the Δs
are correlated and P(best) needs their joint posterior; and the slope and the noise scale are
learned from every model's labels at once.

Model (continuous labels; metrics standardised over the frame, human scores by the sd of the
labelled within-item differences to the incumbent). For a labelled response r of item i by
model m in group g::

    human[r] = alpha[i] + bias[m, g] + X[r] @ beta + e[r],   e ~ Normal(0, sigma)
    bias[incumbent, g] = 0,  bias[m, g] ~ Normal(0, 2.5)    not pooled: each cell's labels

``alpha`` is a fixed effect per item (pairing), removed exactly by centring each item's
labelled responses on their mean: the likelihood is that of the within-item deviations, with
(labels − labelled items) degrees of freedom. With two models it is the paired-difference
model of ``compare`` (there d = e_C − e_I has sd √2·sigma); an item labelled for one model
only carries no information on any Δ and drops out. A common shift of every model's bias
cancels within items, so the incumbent's bias is fixed at zero. An earlier version pooled the
biases across models and groups (narrower when the metric treats the models alike); it was
dropped because pooling across groups hid a small region's unseen regression.

Δ for candidate c, per draw, over the items both c and the incumbent answered:
mean_i [bias[c, g_i] − bias[incumbent, g_i] + (X[i, c] − X[i, incumbent]) @ beta].
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.stats import predictive_check
from pipeline.stats.sampling import (
    difference_unit,
    group_dim,
    metric_names,
    metric_slots,
    name_dims,
)

_COMPILED: dict[tuple, object] = {}
# Saved with every fit and part of population_posterior's code version: bump it when the
# model or its Δ changes.
MODEL_VERSION = "joint-gaussian-1"
BIAS_PRIOR_SD = 2.5  # as compare's: in units of the within-item difference sd


def _within_item_design(item_codes, X, y, n_cells, cell_codes):
    """Centre every labelled item's rows on the item's mean: y, X and the one-hot bias
    cells (model x group), dropping items with a single labelled row. Returns the centred
    arrays, the residual degrees of freedom (rows kept − items kept) and each kept row's
    item code."""
    counts = np.bincount(item_codes)
    keep = counts[item_codes] >= 2
    items, X, y, cells = item_codes[keep], X[keep], y[keep], cell_codes[keep]
    _, items = np.unique(items, return_inverse=True)
    n_items = int(items.max()) + 1 if len(items) else 0
    per_item = np.bincount(items, minlength=n_items).astype(float)

    def centre(values: np.ndarray) -> np.ndarray:
        sums = np.zeros((n_items, values.shape[1]))
        np.add.at(sums, items, values)
        return values - (sums / per_item[:, None])[items]

    onehot = np.eye(n_cells)[cells]
    return (centre(y[:, None])[:, 0], centre(X), centre(onehot),
            float(len(items) - n_items), items)


def _build_model(data: dict, n_models: int, n_groups: int):
    import pymc as pm
    import pytensor.tensor as pt

    with pm.Model() as model:
        X = pm.Data("X", data["X"])
        y = pm.Data("y", data["y"])
        cells = pm.Data("cells", data["cells"])
        dof = pm.Data("dof", data["dof"])
        beta = pm.Normal("beta", 0.0, 1.0, shape=data["X"].shape[1])
        # A bias per (candidate, group) from that cell's labels alone, the incumbent's zero:
        # a common shift of every model's bias cancels within items. Pooling across groups
        # or models would let the other cells outvote a regression the metric cannot see.
        free = pm.Normal("bias_free", 0.0, BIAS_PRIOR_SD, shape=(n_models - 1, n_groups))
        bias = pm.Deterministic("bias", pt.concatenate([pt.zeros((1, n_groups)), free]))
        sigma = pm.HalfNormal("sigma", 1.0)
        residual = y - pt.dot(cells, bias.reshape((-1,))) - pt.dot(X, beta)
        # Gaussian log-likelihood of the within-item deviations (item effects profiled out
        # exactly): dof = labelled rows − labelled items.
        pm.Potential("within_items", -dof * pt.log(sigma)
                     - pt.sum(residual ** 2) / (2.0 * sigma ** 2))
    return model


def _compiled(data: dict, n_models: int, n_groups: int):
    import nutpie

    key = (n_models, n_groups, data["X"].shape[1])
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = nutpie.compile_pymc_model(_build_model(data, n_models, n_groups))
        _COMPILED[key] = compiled
        return compiled
    return compiled.with_data(**{k: data[k] for k in ("X", "y", "cells", "dof")})


def fit_joint(rows: pd.DataFrame, incumbent: str, candidates: list[str], human_col: str,
              auto_cols: list[str], item_col: str, model_col: str, group_col: str | None,
              *, draws: int, tune: int, chains: int, seed: int):
    """Sample the joint model on validated ``rows`` (every model named, numeric columns, no
    missing metric, some item labelled for the incumbent and each candidate). Returns the
    idata, a dict candidate -> (Δ draws per group (draws x groups), overall Δ draws, items
    per group), and the group names."""
    import nutpie

    models = [incumbent, *candidates]
    rows = rows[rows[model_col].isin(models)]
    X_all = rows[auto_cols].astype(float).to_numpy()
    center, scale = X_all.mean(0), X_all.std(0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    X_all = metric_slots((X_all - center) / scale)
    groups = sorted(map(str, pd.unique(rows[group_col]))) if group_col else ["all"]
    g_all = (pd.Categorical(rows[group_col].astype(str), categories=groups).codes
             if group_col else np.zeros(len(rows), dtype=int))
    m_all = pd.Categorical(rows[model_col], categories=models).codes

    # One row per (item, model): metrics averaged over its responses, the label over its labels.
    xcols = [f"x{j}" for j in range(X_all.shape[1])]
    per = pd.DataFrame(X_all, columns=xcols)
    per["item"], per["m"], per["g"] = rows[item_col].astype(str).to_numpy(), m_all, g_all
    per["y"] = rows[human_col].astype(float).to_numpy()
    per = per.groupby(["item", "m"], as_index=False).mean()
    per["g"] = per["g"].round().astype(int)

    labelled = per[per["y"].notna()]
    h_scale = _difference_scale(labelled)
    item_codes = pd.factorize(labelled["item"])[0]
    cells = labelled["m"].to_numpy() * len(groups) + labelled["g"].to_numpy()
    y, X, C, dof, items = _within_item_design(item_codes, labelled[xcols].to_numpy(),
                                              labelled["y"].to_numpy() / h_scale,
                                              len(models) * len(groups), cells)
    data = {"X": np.ascontiguousarray(X), "y": y, "cells": np.ascontiguousarray(C),
            "dof": np.asarray(dof)}
    idata = nutpie.sample(_compiled(data, len(models), len(groups)), draws=draws or 1000, tune=tune,
                          chains=chains, seed=seed, progress_bar=False, target_accept=0.9)
    predictive_check.within_item(idata, y, data["X"], data["cells"], items, h_scale, seed)
    deltas = _deltas(idata, per, xcols, candidates, len(groups), h_scale)
    # named dimensions for whoever opens the fit; the free biases are the bias less the
    # incumbent's zero row, so only the bias is kept
    by_group = group_dim(group_col)
    name_dims(idata, {"beta": ("auto_metric",), "bias": ("model", by_group)},
              {"auto_metric": metric_names(auto_cols), "model": models, by_group: groups})
    idata.posterior.attrs.update(human_scale=h_scale, metric_center=center,
                                 metric_scale=scale)
    return idata, deltas, groups


def _difference_scale(labelled: pd.DataFrame) -> float:
    """``compare``'s unit of the priors, from the labelled within-item differences to the
    incumbent (model code 0) pooled over candidates."""
    wide = labelled.pivot_table(index="item", columns="m", values="y")
    diffs = np.concatenate([(wide[m] - wide[0]).dropna().to_numpy()
                            for m in wide.columns if m != 0])
    return difference_unit(diffs, labelled["y"].to_numpy())


def _deltas(idata, per: pd.DataFrame, xcols, candidates, n_groups: int, h_scale: float):
    """Per candidate: Δ draws per group (draws x groups), overall Δ draws, items per group."""
    post = idata.posterior
    beta = post["beta"].values.reshape(-1, len(xcols))
    bias = post["bias"].values.reshape(beta.shape[0], -1, n_groups)
    incumbent = per[per["m"] == 0].set_index("item")
    out = {}
    for code, name in enumerate(candidates, start=1):
        cand = per[per["m"] == code].set_index("item")
        items = incumbent.index.intersection(cand.index)
        dX = cand.loc[items, xcols].to_numpy() - incumbent.loc[items, xcols].to_numpy()
        g_items = incumbent.loc[items, "g"].to_numpy()
        counts = np.bincount(g_items, minlength=n_groups)
        mean_dx = np.stack([dX[g_items == g].mean(0) if counts[g] else np.zeros(len(xcols))
                            for g in range(n_groups)])
        per_group = (bias[:, code, :] - bias[:, 0, :] + beta @ mean_dx.T) * h_scale
        overall = per_group @ (counts / max(counts.sum(), 1))
        out[name] = (per_group, overall, counts)
    return out
