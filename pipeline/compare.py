"""Compare two LLMs on one dimension: Δ = mean human score of the candidate minus the incumbent
over every item of a frame, from a few human labels and automated scores on every row.

Plain Python (no Dagster), so it can be called from a notebook, the CLI (``llm-migrate
compare``) or an asset.

Model (fitted on the labelled rows only; metrics standardised over the whole frame).

Continuous scales (Likert treated as metric), on the within-item difference: for each item
labelled for both models, d[i] = human[i, candidate] − human[i, incumbent] (labels of one
(item, model) averaged) and dX[i] = X[i, candidate] − X[i, incumbent]::

    d[i]    ~ Normal(bias[g[i]] + dX[i] @ beta, sigma)
    bias[g] = b0 + tau_b * z_b[g]                 model-specific calibration bias, pooled over groups

Binary 0/1 labels (Bernoulli-logit, per labelled row r of item i, model m)::

    human[r] ~ Bernoulli(logit^-1(a[g] + is_candidate[r] * (bias[g] + X[r] @ gamma)
                                  + X[r] @ beta + u[i]))
    a[g] = a0 + tau_a * z_a[g],  u[i] = tau_u * z_u[i]  (item effect, non-centred)

* Pairing: differencing removes the item effect exactly (a fixed effect per item; the
  Bernoulli model has a random item effect instead). On the Gaussian scale labels of an item
  labelled for one model only cannot inform Δ without assuming a distribution for the item
  effect, so they are not used (they still count in ``n_labeled``).
* Several automated metrics at once: the columns of ``X``.
* Rectifier (PPI structure): ``dX @ beta`` is the calibrated prediction of the difference;
  ``bias`` is the mean labelled residual, i.e. how much the metric flatters one model over the
  other, estimated from the labels with its own residual scale ``sigma``. With the intercept
  in the model the residuals average to zero over the labels, so a poor or flattering metric
  widens the interval (larger ``sigma``) instead of biasing Δ, and beta -> 0 recovers the
  human-only mean: the automated signal can only help (beta plays PPI++'s lambda).
* Δ per posterior draw, never a loop over draws x rows. Δ is the posterior-predictive mean of
  every (item, model) pair of the frame, labelled or not (observed labels are not plugged in;
  that would need a finite-population correction, and leaving it out is conservative):
  Gaussian: Δ = Σ_g w_g bias[g] + beta · mean_i dX[i], w_g the share of paired items in
  group g; cost O(draws x (groups + metrics)).
  Bernoulli: Δ = mean over paired items of E_u[σ(η_C + u) − σ(η_I + u)] with a fresh item
  effect (9-point Gauss–Hermite over u), a (draws x items) product in chunks of 2,000 items.

Reuse: the compiled nutpie model is cached in-process keyed on (likelihood, groups, labelled
items and the shapes of every data array: paired items or labelled rows, metrics); all data enter through
``pm.Data`` and a repeated call with the same shapes only swaps the data
(``CompiledModel.with_data``) instead of recompiling (cold ~10-25 s on 2 busy cores, warm <1 s).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from pipeline.decision import decide

__all__ = ["Comparison", "compare"]

_COMPILED: dict[tuple, object] = {}
_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(9)
_GH_WEIGHTS = _GH_WEIGHTS / _GH_WEIGHTS.sum()


@dataclass
class Comparison:
    incumbent: str
    candidate: str
    delta_mean: float
    ci_low: float
    ci_high: float
    p_candidate_better: float  # P(Δ > −margin)
    decision: str  # migrate | hold | need_more_labels
    n_labeled: int
    n_unlabeled: int
    labels_needed: int | None
    margin: float
    prob: float
    likelihood: str
    diagnostics: dict = field(default_factory=dict)  # max_r_hat, min_ess_bulk, divergences
    draws: np.ndarray | None = field(default=None, repr=False)  # posterior draws of Δ

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("draws")
        return {k: (float(v) if isinstance(v, np.floating) else v) for k, v in out.items()}


# ----------------------------------------------------------------------------- validation
def _validate(frame, incumbent, candidate, human_col, auto_cols, item_col, model_col, group_col):
    if not isinstance(frame, pd.DataFrame):
        raise ValueError("compare: frame must be a pandas DataFrame")
    needed = [item_col, model_col, human_col, *auto_cols] + ([group_col] if group_col else [])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"compare: missing columns: {', '.join(map(str, missing))}")
    present = sorted(map(str, pd.unique(frame[model_col].dropna())))
    for name in (incumbent, candidate):
        if str(name) not in present:
            raise ValueError(
                f"compare: unknown model {name!r}; models present: {', '.join(present)}"
            )
    if incumbent == candidate:
        raise ValueError("compare: incumbent and candidate must differ")
    for col in [human_col, *auto_cols]:
        if not pd.api.types.is_numeric_dtype(frame[col]):
            raise ValueError(f"compare: column {col!r} must be numeric")
    rows = frame[frame[model_col].astype(str).isin([str(incumbent), str(candidate)])].copy()
    rows[model_col] = rows[model_col].astype(str)
    incumbent, candidate = str(incumbent), str(candidate)
    if rows[list(auto_cols)].isna().any().any():
        bad = [c for c in auto_cols if rows[c].isna().any()]
        raise ValueError(f"compare: automated score column {bad[0]!r} has missing values")
    labelled = rows[rows[human_col].notna()]
    if labelled.empty:
        raise ValueError("compare: no human labels for either model")
    for name in (incumbent, candidate):
        if not (labelled[model_col] == name).any():
            other = candidate if name == incumbent else incumbent
            raise ValueError(
                f"compare: human labels for one model only ({other!r}); "
                f"label some responses of {name!r} too"
            )
    return rows


# ----------------------------------------------------------------------------- model
def _build_model(likelihood: str, data: dict):
    import pymc as pm
    import pytensor.tensor as pt

    n_groups = int(data["n_groups"])
    with pm.Model() as model:
        X = pm.Data("X", data["X"])
        y = pm.Data("y", data["y"])
        group = pm.Data("group", data["group"])
        k = data["X"].shape[1]

        b0 = pm.Normal("b0", 0.0, 1.0)
        beta = pm.Normal("beta", 0.0, 1.0, shape=k)
        if n_groups > 1:
            tau_b = pm.HalfNormal("tau_b", 0.25)
            z_b = pm.Normal("z_b", 0.0, 1.0, shape=n_groups)
            bias = pm.Deterministic("bias", b0 + tau_b * z_b)
        else:
            bias = pm.Deterministic("bias", b0 + pt.zeros(1))
        if likelihood == "gaussian":
            # y: within-item difference (candidate − incumbent), X: difference of metrics.
            # The item effect is differenced out exactly (a fixed effect per item).
            sigma = pm.HalfNormal("sigma", 1.0)
            pm.Normal("obs", bias[group] + pt.dot(X, beta), sigma + 1e-3, observed=y)
        else:
            cand = pm.Data("cand", data["cand"])
            item = pm.Data("item", data["item"])
            a0 = pm.Normal("a0", 0.0, 2.0)
            if n_groups > 1:
                tau_a = pm.HalfNormal("tau_a", 0.5)
                z_a = pm.Normal("z_a", 0.0, 1.0, shape=n_groups)
                a = a0 + tau_a * z_a
            else:
                a = a0 + pt.zeros(1)
            tau_u = pm.HalfNormal("tau_u", 1.0)
            z_u = pm.Normal("z_u", 0.0, 1.0, shape=data["n_items"])
            # model-specific calibration slope: the metric may track humans better for one
            # model; with it the fit is saturated per model for a binary metric
            gamma = pm.Normal("gamma", 0.0, 1.0, shape=k)
            eta = (a[group] + bias[group] * cand + pt.dot(X, beta)
                   + cand * pt.dot(X, gamma) + tau_u * z_u[item])
            pm.Bernoulli("obs", logit_p=eta, observed=y)
    return model


def _compiled(likelihood: str, data: dict):
    import nutpie

    names = ("X", "y", "group") + (("cand", "item") if likelihood == "bernoulli" else ())
    key = (likelihood, data["n_groups"], data["n_items"]) + tuple(np.shape(data[k]) for k in names)
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = nutpie.compile_pymc_model(_build_model(likelihood, data))
        _COMPILED[key] = compiled
        return compiled
    return compiled.with_data(**{k: data[k] for k in names})


def _diagnostics(idata) -> dict:
    import arviz as az

    names = [v for v in ("a0", "b0", "beta", "gamma", "bias", "tau_b", "tau_u", "sigma")
             if v in idata.posterior]
    summary = az.summary(idata, var_names=names, kind="diagnostics")
    divergences = 0
    if "diverging" in idata.sample_stats:
        divergences = int(idata.sample_stats["diverging"].sum())
    return {
        "max_r_hat": float(summary["r_hat"].max()),
        "min_ess_bulk": float(summary["ess_bulk"].min()),
        "divergences": divergences,
    }


def _stack(idata, name) -> np.ndarray:
    arr = idata.posterior[name].values  # chain, draw, ...
    return arr.reshape(arr.shape[0] * arr.shape[1], *arr.shape[2:])


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


# ----------------------------------------------------------------------------- public
def compare(
    frame: pd.DataFrame,
    incumbent: str,
    candidate: str,
    human_col: str = "human",
    auto_cols=("auto",),
    item_col: str = "item_id",
    model_col: str = "model",
    group_col: str | None = None,
    margin: float = 0.0,
    prob: float = 0.95,
    seed: int = 0,
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    likelihood: str = "auto",
) -> Comparison:
    """Posterior of Δ (candidate − incumbent mean human score over all items of ``frame``)
    and the migrate / hold / need_more_labels decision (``pipeline.decision.decide``).

    ``likelihood``: "auto" (Bernoulli-logit when every human label is 0 or 1, else
    Gaussian), "gaussian" or "bernoulli".
    """
    import nutpie

    auto_cols = [auto_cols] if isinstance(auto_cols, str) else list(auto_cols)
    rows = _validate(frame, incumbent, candidate, human_col, auto_cols, item_col, model_col,
                     group_col)
    incumbent, candidate = str(incumbent), str(candidate)
    human = rows[human_col].astype(float)
    labelled_mask = human.notna().to_numpy()
    if likelihood == "auto":
        values = set(np.unique(human[labelled_mask]))
        likelihood = "bernoulli" if values <= {0.0, 1.0} else "gaussian"
    if likelihood not in ("gaussian", "bernoulli"):
        raise ValueError(f"compare: unknown likelihood {likelihood!r}")
    if likelihood == "bernoulli" and not set(np.unique(human[labelled_mask])) <= {0.0, 1.0}:
        raise ValueError(f"compare: likelihood 'bernoulli' needs 0/1 labels in {human_col!r}")

    # Standardise the metrics over the whole frame (Gaussian: the human differences by their sd).
    X_all = rows[auto_cols].astype(float).to_numpy()
    x_center, x_scale = X_all.mean(0), X_all.std(0)
    x_scale = np.where(x_scale > 1e-12, x_scale, 1.0)
    X_all = (X_all - x_center) / x_scale
    groups = (sorted(map(str, pd.unique(rows[group_col]))) if group_col else ["all"])
    g_all = (pd.Categorical(rows[group_col].astype(str), categories=groups).codes
             if group_col else np.zeros(len(rows), dtype=int))
    is_cand = (rows[model_col] == candidate).to_numpy()
    lab = labelled_mask

    # One mean row per (item, model): metrics over all rows, the human score over labels.
    xcols = [f"x{j}" for j in range(X_all.shape[1])]
    work = pd.DataFrame(X_all, columns=xcols)
    work["item"] = rows[item_col].astype(str).to_numpy()
    work["cand"] = is_cand
    work["g"] = g_all
    work["y"] = human.to_numpy()
    per = work.groupby(["item", "cand"]).mean(numeric_only=True)  # mean skips NaN labels
    if not {False, True} <= set(per.index.get_level_values("cand")):
        raise ValueError("compare: no item was answered by both models")
    inc_tab, cand_tab = per.xs(False, level="cand"), per.xs(True, level="cand")
    paired = inc_tab.index.intersection(cand_tab.index)
    if len(paired) == 0:
        raise ValueError("compare: no item was answered by both models")
    Xi = inc_tab.loc[paired, xcols].to_numpy()
    Xc = cand_tab.loc[paired, xcols].to_numpy()
    g_items = inc_tab.loc[paired, "g"].round().astype(int).to_numpy()

    if likelihood == "gaussian":
        d = (cand_tab.loc[paired, "y"] - inc_tab.loc[paired, "y"]).to_numpy()
        both = np.isfinite(d)
        if not both.any():
            raise ValueError(
                "compare: no item is labelled for both models; the paired comparison needs some"
            )
        h_scale = float(np.std(d[both], ddof=1)) if both.sum() > 1 else 1.0
        if not np.isfinite(h_scale) or h_scale < 1e-9:
            h_scale = float(human[lab].std()) if lab.sum() > 1 else 1.0
            h_scale = h_scale if np.isfinite(h_scale) and h_scale > 1e-9 else 1.0
        data = {"X": np.ascontiguousarray((Xc - Xi)[both]), "y": d[both] / h_scale,
                "group": g_items[both].astype(np.int64), "n_items": 0,
                "n_groups": len(groups)}
    else:
        h_scale = 1.0
        lab_items, item_idx = np.unique(work["item"].to_numpy()[lab], return_inverse=True)
        data = {"X": np.ascontiguousarray(X_all[lab]),
                "y": human[lab].to_numpy().astype(np.int64),
                "cand": is_cand[lab].astype(float), "item": item_idx.astype(np.int64),
                "group": g_all[lab].astype(np.int64), "n_items": len(lab_items),
                "n_groups": len(groups)}
    compiled = _compiled(likelihood, data)
    # Group-level scales with few groups make a funnel: a higher target acceptance keeps
    # the divergences rare (they are reported in diagnostics either way).
    idata = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, seed=seed,
                          progress_bar=False,
                          target_accept=0.95 if len(groups) > 1 else 0.8)

    beta = _stack(idata, "beta")  # S x K
    bias = _stack(idata, "bias")  # S x G
    if likelihood == "gaussian":
        weights = np.bincount(g_items, minlength=len(groups)) / len(g_items)
        delta = (bias @ weights + beta @ (Xc - Xi).mean(0)) * h_scale
    else:
        a0 = _stack(idata, "a0")
        a = a0[:, None] + (_stack(idata, "tau_a")[:, None] * _stack(idata, "z_a")
                           if len(groups) > 1 else 0.0)
        a = np.broadcast_to(a, bias.shape)
        tau_u = _stack(idata, "tau_u")
        gamma = _stack(idata, "gamma")
        delta = np.zeros(len(beta))
        for start in range(0, len(paired), 2000):  # chunks of items: memory bounded
            sl = slice(start, start + 2000)
            gi = g_items[sl]
            base_i = a[:, gi] + beta @ Xi[sl].T  # S x items
            base_c = a[:, gi] + bias[:, gi] + (beta + gamma) @ Xc[sl].T
            for node, w in zip(_GH_NODES, _GH_WEIGHTS):
                shift = (tau_u * node)[:, None]
                delta += w * (_sigmoid(base_c + shift) - _sigmoid(base_i + shift)).sum(1)
        delta /= len(paired)

    n_labeled = int(lab.sum())
    verdict = decide(delta, margin=margin, prob=prob, n_labels=n_labeled)
    return Comparison(
        incumbent=incumbent,
        candidate=candidate,
        delta_mean=verdict.delta_mean,
        ci_low=verdict.ci_low,
        ci_high=verdict.ci_high,
        p_candidate_better=verdict.p_better,
        decision=verdict.decision,
        n_labeled=n_labeled,
        n_unlabeled=int((~lab).sum()),
        labels_needed=verdict.labels_needed,
        margin=float(margin),
        prob=float(prob),
        likelihood=likelihood,
        diagnostics=_diagnostics(idata),
        draws=delta,
    )
