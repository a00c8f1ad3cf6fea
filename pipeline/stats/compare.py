"""Compare two LLMs on one dimension: Δ = mean human score of the candidate minus the incumbent
over every item of a frame, from a few human labels and automated scores on every row.

Plain Python (no Dagster), so it can be called from a notebook, the CLI (``llm-migrate
compare``) or an asset.

Model (fitted on the labelled rows only; metrics standardised over the whole frame).

Continuous scales (Likert treated as metric), on the within-item difference: for each item
labelled for both models, d[i] = human[i, candidate] − human[i, incumbent] (labels of one
(item, model) averaged) and dX[i] = X[i, candidate] − X[i, incumbent]::

    d[i]    ~ Normal(bias[g[i]] + dX[i] @ beta, sigma)
    bias[g] ~ Normal(0, 2.5)     the metric's bias for the candidate in group g, not pooled

Binary 0/1 labels (Bernoulli-logit, per labelled row r of item i, model m)::

    human[r] ~ Bernoulli(logit^-1(a[g] + is_candidate[r] * (bias[g] + X[r] @ gamma)
                                  + X[r] @ beta + u[i]))
    a[g] ~ Normal(0, 2),  bias[g] ~ Normal(0, 2.5),  u[i] ~ Normal(0, tau_u)  (item effect,
    integrated out of the likelihood item by item by Gauss-Hermite quadrature)

Ordinal (on request, ``likelihood="ordinal"``): the same latent predictor with a[0] = 0, and
``human[r] ~ OrderedLogistic(eta[r], cut)`` over the observed levels, the cutpoints through a
Dirichlet prior on the category probabilities at eta = 0. Not the default for Likert labels:
on SummEval consistency (n = 25, 12 pairs x 8 masks) it covered 0.76 where the Gaussian
difference model covered 0.95 on the same masks (benchmarks/README.md). A point mass at d = 0
on the Gaussian scale (a hurdle for tied ratings) was tried too: 0.83 against 0.92.

* Pairing: differencing removes the item effect exactly (a fixed effect per item; the
  Bernoulli model has a random item effect instead). On the Gaussian scale labels of an item
  labelled for one model only cannot inform Δ without assuming a distribution for the item
  effect, so they are not used (they still count in ``n_labeled``).
* Several automated metrics at once: the columns of ``X``.
* Groups (``group_col``, the pipeline's regions): each group's verdict must rest on that
  group's own labels for anything that can bias it, so the bias (and, for 0/1 or ordinal
  labels, the incumbent's level) has a separate wide prior per group; only what cannot bias a
  group's Δ is shared: the slope ``beta`` (a wrong slope costs width, never bias: the bias
  absorbs the mean residual of the group's labels) and the noise scale. Partially pooling the
  bias was measured to wrongly migrate in 17-30 % of data sets where a small group regressed
  unseen by the metric.
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
  Bernoulli and ordinal: Δ = mean over paired items of E_u[E(score | η_C + u) − E(score |
  η_I + u)] with a fresh item effect (9-point Gauss–Hermite over u), a (draws x items)
  product in chunks of 1,000 items.

Several candidates: ``compare_many`` fits them in one model (``pipeline.stats.joint``:
the same within-item likelihood over every model, a bias per model and group, one slope
and noise scale) and adds P(best) from the joint posterior; for 0/1 or ordinal labels it fits
each pair.

No verdict from a failed fit: when the sampler's diagnostics fail (``sampling.fit_failures``:
r_hat > 1.01, bulk or tail ESS < 400, any divergence, over every parameter that enters Δ) the
decision, overall and per group, is ``fit_failed``, never migrate or hold; raise ``tune`` and
``draws``.

Reuse: the compiled nutpie model is cached in-process keyed on the model's dimensions
(likelihood, groups, metrics, levels, and for 0/1 and ordinal labels the labelled items rounded
up to a power of two, ``padded_item_count``); all data enter through ``pm.Data``, and a repeated
call with the same dimensions only swaps the data (``CompiledModel.with_data``) instead of
recompiling (cold ~18 s on 2 cores, warm <1 s). Row counts are not dimensions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from pipeline.stats import predictive_check
from pipeline.stats.decision import decide
from pipeline.stats.frames import check_comparison_frame, request_status
from pipeline.stats.joint import MODEL_VERSION as JOINT_MODEL_VERSION
from pipeline.stats.joint import fit_joint
from pipeline.stats.sampling import (
    diagnostics,
    difference_unit,
    fit_failures,
    group_dim,
    metric_names,
    metric_slots,
    name_dims,
    stacked,
)

__all__ = ["Comparison", "MultiComparison", "check_pair", "compare", "compare_many", "p_best"]

_COMPILED: dict[tuple, object] = {}
_CHUNK_ITEMS = 1000
# The code version of each pair model (saved with every fit, and part of the
# population_posterior asset's code version): bump it when the model or its Δ changes.
MODEL_VERSIONS = {"gaussian": "paired-gaussian-1", "bernoulli": "paired-bernoulli-1",
                  "ordinal": "paired-ordinal-1"}
# Prior sd of the metric's bias for the candidate in a group, in units of the paired
# difference's sd (logits for 0/1 labels): wide, so a group's own labels decide it.
BIAS_PRIOR_SD = 2.5
_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(9)
_LIK_NODES, _LIK_WEIGHTS = np.polynomial.hermite_e.hermegauss(15)  # the item effect, in the fit
_LIK_WEIGHTS = _LIK_WEIGHTS / _LIK_WEIGHTS.sum()
_GH_WEIGHTS = _GH_WEIGHTS / _GH_WEIGHTS.sum()


@dataclass
class Comparison:
    incumbent: str
    candidate: str
    delta_mean: float
    ci_low: float
    ci_high: float
    p_candidate_better: float  # P(Δ > −margin)
    decision: str  # migrate | hold | need_more_labels | fit_failed
    n_labeled: int
    n_unlabeled: int
    # more labelled requests (both models' responses) after which the decision resolves with
    # probability 0.8 (decision.label_plan); None unless need_more_labels, or when the plan
    # is "cannot_settle"
    labels_needed: int | None
    margin: float
    prob: float
    likelihood: str
    # max_r_hat, min_ess_bulk, min_ess_tail, divergences, and the failures they mean
    diagnostics: dict = field(default_factory=dict)
    labelled_requests: int = 0  # requests labelled for both models
    unlabelled_requests: int = 0  # requests answered by both and not labelled for both
    plan: str | None = None  # need_more_labels: "label" | "cannot_settle"
    # P(the overall decision resolves) after its own plan's labels; each group's is in groups
    settle_prob: float | None = None
    # per group (with group_col): delta_mean, ci_low, ci_high, p_candidate_better, decision,
    # n_labeled, labelled_requests, unlabelled_requests, labels_needed, settle_prob, plan
    groups: dict = field(default_factory=dict)
    draws: np.ndarray | None = field(default=None, repr=False)  # posterior draws of Δ
    group_draws: dict = field(default_factory=dict, repr=False)  # group -> draws of its Δ
    # the statistical model (joint_gaussian, paired_gaussian, paired_bernoulli, paired_ordinal)
    # and its code version (MODEL_VERSIONS, joint.MODEL_VERSION)
    statistical_model: str = ""
    code_version: str = ""
    # the fit's arviz InferenceData, parameters with named dimensions (the group_col, model,
    # auto_metric); candidates fitted in one joint model share it
    idata: object = field(default=None, repr=False)

    def to_dict(self) -> dict:
        # the draws and the fit stay out (and out of asdict's deep copy)
        out = asdict(replace(self, draws=None, group_draws={}, idata=None))
        for name in ("draws", "group_draws", "idata"):
            out.pop(name)
        return {k: (float(v) if isinstance(v, np.floating) else v) for k, v in out.items()}


# ----------------------------------------------------------------------------- validation
def _validate(frame, incumbent, candidate, human_col, auto_cols, item_col, model_col, group_col,
              weight_col=None):
    needed = ([item_col, model_col, human_col, *auto_cols] + ([group_col] if group_col else [])
              + ([weight_col] if weight_col else []))
    check_comparison_frame("compare", frame, needed, model_col, incumbent, candidate)
    for col in [human_col, *auto_cols, *([weight_col] if weight_col else [])]:
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
    if weight_col and not (np.isfinite(labelled[weight_col]) & (labelled[weight_col] > 0)).all():
        raise ValueError(f"compare: design weight column {weight_col!r} must be a positive "
                         "number on every labelled row (1 / its inclusion probability)")
    for name in (incumbent, candidate):
        if not (labelled[model_col] == name).any():
            other = candidate if name == incumbent else incumbent
            raise ValueError(
                f"compare: human labels for one model only ({other!r}); "
                f"label some responses of {name!r} too"
            )
    return rows


def check_pair(frame, incumbent, candidate, human_col="human", auto_cols=("auto",),
               item_col="item_id", model_col="model", group_col=None) -> None:
    """Raise the ValueError ``compare`` would raise for this frame and pair, without
    fitting: lets a caller leave out a candidate whose labels cannot support a comparison."""
    auto_cols = [auto_cols] if isinstance(auto_cols, str) else list(auto_cols)
    rows = _validate(frame, incumbent, candidate, human_col, auto_cols, item_col, model_col,
                     group_col)
    labels = rows[human_col].dropna().to_numpy(dtype=float)
    if _choose_likelihood("auto", labels, human_col)[0] == "gaussian":
        _require_paired_labels(rows, str(incumbent), str(candidate), human_col, item_col,
                               model_col)


def _require_paired_labels(rows, incumbent, candidate, human_col, item_col, model_col) -> None:
    """The Gaussian models learn Δ from items labelled for both models only."""
    labelled = rows[rows[human_col].notna()]
    items = [set(labelled.loc[labelled[model_col] == name, item_col])
             for name in (incumbent, candidate)]
    if not items[0] & items[1]:
        raise ValueError(
            "compare: no item is labelled for both models; the paired comparison needs some")


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

        beta = pm.Normal("beta", 0.0, 1.0, shape=k)
        # The metric's bias for the candidate in each group, from that group's labels alone:
        # pooling it across groups let the large groups outvote a small one whose regression
        # the metric cannot see. Only the slope and the noise scale are shared.
        bias = pm.Normal("bias", 0.0, BIAS_PRIOR_SD, shape=n_groups)
        if likelihood == "gaussian":
            # y: within-item difference (candidate − incumbent), X: difference of metrics.
            # The item effect is differenced out exactly (a fixed effect per item).
            sigma = pm.HalfNormal("sigma", 1.0)
            w = pm.Data("w", data["w"])
            residual = pm.logp(pm.Normal.dist(bias[group] + pt.dot(X, beta), sigma + 1e-3), y)
            pm.Potential("obs", pt.sum(w * residual))  # w = 1: the plain likelihood
            return model

        cand = pm.Data("cand", data["cand"])
        item = pm.Data("item", data["item"])
        if likelihood == "bernoulli":
            # the incumbent's level in each group, unpooled for the same reason as the bias
            a = pm.Normal("a", 0.0, 2.0, shape=n_groups)
        else:  # ordinal: the cutpoints carry the first group's level
            rest = (pm.Normal("a_rest", 0.0, 2.0, shape=n_groups - 1) if n_groups > 1
                    else pt.zeros(0))
            a = pm.Deterministic("a", pt.concatenate([pt.zeros(1), rest]))
        tau_u = pm.HalfNormal("tau_u", 1.0)
        # model-specific calibration slope: the metric may track humans better for one
        # model; with it the fit is saturated per model for a binary metric
        gamma = pm.Normal("gamma", 0.0, 1.0, shape=k)
        eta = a[group] + bias[group] * cand + pt.dot(X, beta) + cand * pt.dot(X, gamma)
        if likelihood == "bernoulli":
            cut = None
        else:
            # Cutpoints through the category probabilities at eta = 0 (a Dirichlet prior on
            # them, Betancourt's "induced Dirichlet"): proper and well behaved when some
            # levels are rare, as the low ratings of a skewed Likert scale are.
            p_cat = pm.Dirichlet("p_cat", a=np.ones(int(data["n_levels"])))
            cum = pt.clip(pt.cumsum(p_cat)[:-1], 1e-9, 1.0 - 1e-9)
            cut = pm.Deterministic("cut", pt.log(cum) - pt.log1p(-cum))
        w = pm.Data("w", data["w"])
        pm.Potential("obs", pt.sum(w * _item_marginal_loglik(eta, y, item, tau_u, cut,
                                                             int(data["n_items"]))))
    return model


def _item_marginal_loglik(eta, y, item, tau_u, cut, n_items: int):
    """Log-likelihood of each item's labels with its effect u ~ Normal(0, tau_u) integrated
    out by Gauss-Hermite quadrature, item by item. An item has a label or two, so sampling one
    u per item made a funnel in tau_u (bulk ESS about 200 in 2,000 draws); integrating it
    removes those parameters. ``cut`` None is the Bernoulli case."""
    import pytensor.tensor as pt

    shifted = eta[:, None] + tau_u * _LIK_NODES[None, :]  # labels x nodes
    if cut is None:
        per_label = pt.switch(pt.eq(y, 1)[:, None], -pt.softplus(-shifted),
                              -pt.softplus(shifted))
    else:  # P(level k) = σ(c_k − eta) − σ(c_{k−1} − eta), with c_0 = −∞ and c_K = +∞
        bounds = pt.concatenate([pt.as_tensor([-np.inf]), cut, pt.as_tensor([np.inf])])
        upper = pt.sigmoid(bounds[y + 1][:, None] - shifted)
        lower = pt.sigmoid(bounds[y][:, None] - shifted)
        per_label = pt.log(pt.clip(upper - lower, 1e-12, 1.0))
    per_item = pt.zeros((n_items, len(_LIK_NODES)))
    per_item = pt.inc_subtensor(per_item[item], per_label)  # sums an item's labels
    return pt.logsumexp(per_item + np.log(_LIK_WEIGHTS)[None, :], axis=1)


def design_weights(weights: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Inverse-probability weights scaled, within each group, to sum to the group's Kish
    effective sample size (Σw)² / Σw²: the weighted likelihood then centres a group's bias on
    the weighted (Hájek) mean residual, and its posterior sd reflects the information the
    unequal weights leave. Equal weights give ones: the unweighted likelihood."""
    weights = np.asarray(weights, dtype=float)
    scaled = np.ones_like(weights)
    for g in range(n_groups):
        mask = groups == g
        if mask.any():
            w = weights[mask]
            scaled[mask] = w * w.sum() / (w ** 2).sum()
    return scaled


def padded_item_count(n_items: int) -> int:
    """The item count a 0/1 or ordinal model is compiled for: the next power of two (at least
    256), so that fits with more or fewer labelled items share one compiled model. An item
    without labels adds exactly nothing: its quadrature row is log Σ weights = 0, and its
    weight is 0."""
    return max(256, 1 << max(n_items - 1, 0).bit_length())


def _compiled(likelihood: str, data: dict):
    import nutpie

    names = ("X", "y", "group", "w") + (("cand", "item") if likelihood != "gaussian" else ())
    # Row counts are not model dimensions (with_data takes any length); the number of
    # metrics, groups, labelled items and levels are.
    key = (likelihood, data["n_groups"], data["n_items"], data.get("n_levels", 0),
           data["X"].shape[1])
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = nutpie.compile_pymc_model(_build_model(likelihood, data))
        _COMPILED[key] = compiled
        return compiled
    return compiled.with_data(**{k: data[k] for k in names})


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _choose_likelihood(likelihood: str, labels: np.ndarray, human_col: str):
    """The likelihood to fit and, for the ordinal one, its sorted levels."""
    if likelihood not in ("auto", "gaussian", "bernoulli", "ordinal"):
        raise ValueError(f"compare: unknown likelihood {likelihood!r}")
    binary = set(np.unique(labels)) <= {0.0, 1.0}
    if likelihood == "bernoulli" and not binary:
        raise ValueError(f"compare: likelihood 'bernoulli' needs 0/1 labels in {human_col!r}")
    if likelihood == "auto":
        likelihood = "bernoulli" if binary else "gaussian"
    levels = np.unique(labels) if likelihood == "ordinal" else None
    if levels is not None and len(levels) < 2:
        raise ValueError(
            f"compare: likelihood 'ordinal' needs two or more levels in {human_col!r}")
    return likelihood, levels


def _latent_delta(idata, likelihood, levels, Xi, Xc, g_items, n_groups) -> np.ndarray:
    """Per draw and group, the sum over the group's paired items of E[score | candidate] −
    E[score | incumbent], with a fresh item effect integrated out (9-point Gauss–Hermite).
    For ordered levels L_1 < ... < L_K and cutpoints c_k,
    E[score | eta] = L_K − Σ_k (L_{k+1} − L_k) σ(c_k − eta); Bernoulli is K = 2, c = 0."""
    beta, bias, gamma = stacked(idata, "beta"), stacked(idata, "bias"), stacked(idata, "gamma")
    n_draws = len(beta)
    a = stacked(idata, "a")
    if likelihood == "bernoulli":
        cut, steps = np.zeros((n_draws, 1)), np.ones(1)
    else:
        cut, steps = stacked(idata, "cut"), np.diff(levels)
    tau_u = stacked(idata, "tau_u")
    membership = np.eye(n_groups)[g_items]  # items x groups
    sums = np.zeros((n_draws, n_groups))
    for start in range(0, len(Xi), _CHUNK_ITEMS):  # chunks of items: memory bounded
        sl = slice(start, start + _CHUNK_ITEMS)
        gi = g_items[sl]
        eta_i = a[:, gi] + beta @ Xi[sl].T  # draws x items
        eta_c = a[:, gi] + bias[:, gi] + (beta + gamma) @ Xc[sl].T
        per_item = np.zeros_like(eta_i)
        for node, weight in zip(_GH_NODES, _GH_WEIGHTS):
            shift = (tau_u * node)[:, None]
            for k, step in enumerate(steps):
                c = cut[:, k, None] - shift
                per_item += weight * step * (_sigmoid(c - eta_i) - _sigmoid(c - eta_c))
        sums += per_item @ membership[sl]
    return sums


def _group_deltas(likelihood, idata, levels, Xi, Xc, g_items, n_groups, h_scale):
    """Δ per draw for each group (draws x groups) and for all paired items (draws)."""
    counts = np.bincount(g_items, minlength=n_groups)
    if likelihood == "gaussian":
        beta, bias = stacked(idata, "beta"), stacked(idata, "bias")  # draws x metrics, groups
        dX = Xc - Xi
        group_mean_dx = np.stack([dX[g_items == g].mean(0) if counts[g] else np.zeros(dX.shape[1])
                                  for g in range(n_groups)])  # groups x metrics
        per_group = (bias + beta @ group_mean_dx.T) * h_scale
        overall = per_group @ (counts / counts.sum())
    else:
        sums = _latent_delta(idata, likelihood, levels, Xi, Xc, g_items, n_groups)
        per_group = sums / np.maximum(counts, 1)
        overall = sums.sum(1) / counts.sum()
    return per_group, overall, counts


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
    draws: int | None = None,
    tune: int = 1000,
    chains: int = 2,
    likelihood: str = "auto",
    weight_col: str | None = None,
) -> Comparison:
    """Posterior of Δ (candidate − incumbent mean human score over all items of ``frame``)
    and the migrate / hold / need_more_labels decision (``pipeline.stats.decision.decide``).

    With ``group_col`` the decision follows every group too: migrate only when Δ clears
    the margin overall and in every group, hold when it falls below it overall or in any
    group (``groups`` holds each group's Δ and decision).

    ``likelihood``: "auto" (Bernoulli-logit when every human label is 0 or 1, else the
    Gaussian within-item difference), "gaussian", "bernoulli" or "ordinal" (ordered-logistic
    on the observed levels, with an item effect; on request only: on SummEval consistency it
    covered less than the Gaussian model, see benchmarks/README.md).

    ``weight_col``: design weights (1 / inclusion probability) of labels drawn unequally,
    e.g. by ``propose_labels`` or by over-sampling a small group; each group's likelihood is
    weighted by them, scaled to the group's effective sample size (Kish), so the group's bias,
    and so Δ, is estimated for the whole group rather than for the labels' mix. Without it
    the labelled requests are taken as a uniform sample of their group.

    ``draws`` per chain: by default 1,000 for the Gaussian model and 2,000 for the others,
    whose item-effect scale mixes slowly (tail ESS near 300 of 2,000 draws, under the 400
    that a verdict needs).
    """
    import nutpie

    auto_cols = [auto_cols] if isinstance(auto_cols, str) else list(auto_cols)
    rows = _validate(frame, incumbent, candidate, human_col, auto_cols, item_col, model_col,
                     group_col, weight_col)
    incumbent, candidate = str(incumbent), str(candidate)
    human = rows[human_col].astype(float)
    labelled_mask = human.notna().to_numpy()
    likelihood, levels = _choose_likelihood(likelihood, human[labelled_mask].to_numpy(), human_col)
    if likelihood == "gaussian":
        _require_paired_labels(rows, incumbent, candidate, human_col, item_col, model_col)

    # Standardise the metrics over the whole frame (Gaussian: the human differences by their sd).
    X_all = rows[auto_cols].astype(float).to_numpy()
    x_center, x_scale = X_all.mean(0), X_all.std(0)
    x_scale = np.where(x_scale > 1e-12, x_scale, 1.0)
    X_all = metric_slots((X_all - x_center) / x_scale)
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
    work["w"] = (np.where(labelled_mask, rows[weight_col].astype(float), np.nan) if weight_col
                 else np.where(labelled_mask, 1.0, np.nan))
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
        h_scale = difference_unit(d[both], human[lab].to_numpy())
        w_items = (inc_tab.loc[paired, "w"] + cand_tab.loc[paired, "w"]).to_numpy() / 2
        data = {"X": np.ascontiguousarray((Xc - Xi)[both]), "y": d[both] / h_scale,
                "group": g_items[both].astype(np.int64), "n_items": 0,
                "n_groups": len(groups),
                "w": design_weights(w_items[both], g_items[both], len(groups))}
    else:
        h_scale = 1.0
        lab_items, item_idx = np.unique(work["item"].to_numpy()[lab], return_inverse=True)
        y = human[lab].to_numpy()
        if likelihood == "ordinal":  # category index of each label on the observed levels
            y = np.searchsorted(levels, y)
        item_w = pd.Series(work["w"].to_numpy()[lab]).groupby(item_idx).mean().to_numpy()
        item_g = pd.Series(g_all[lab]).groupby(item_idx).first().to_numpy()
        n_items = padded_item_count(len(lab_items))
        item_w = design_weights(item_w, item_g, len(groups))
        data = {"X": np.ascontiguousarray(X_all[lab]), "y": y.astype(np.int64),
                "cand": is_cand[lab].astype(float), "item": item_idx.astype(np.int64),
                "group": g_all[lab].astype(np.int64), "n_items": n_items,
                "n_groups": len(groups), "n_levels": 0 if levels is None else len(levels),
                "w": np.concatenate([item_w, np.zeros(n_items - len(item_w))])}
    compiled = _compiled(likelihood, data)
    draws = draws or (1000 if likelihood == "gaussian" else 2000)
    # Group-level scales with few groups make a funnel: a higher target acceptance keeps
    # the divergences rare (they are reported in diagnostics either way).
    idata = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, seed=seed,
                          progress_bar=False,
                          target_accept=0.95 if len(groups) > 1 else 0.8)
    if likelihood == "gaussian":
        predictive_check.paired_difference(idata, data["y"], data["X"], data["group"],
                                           h_scale, seed)
    elif likelihood == "bernoulli":
        predictive_check.bernoulli(idata, data["y"], data["X"], data["cand"], data["group"],
                                   data["item"], seed)

    per_group, delta, counts = _group_deltas(likelihood, idata, levels, Xi, Xc, g_items,
                                              len(groups), h_scale)
    requests = _request_counts(rows, incumbent, candidate, human_col, item_col, model_col,
                               group_col, groups)
    result = _comparison(incumbent, candidate, delta, per_group, counts, groups,
                         lab, g_all if group_col else None, requests, margin, prob, likelihood,
                         diagnostics(idata))
    _name_pair_fit(idata, likelihood, group_dim(group_col), groups, auto_cols, levels)
    idata.posterior.attrs.update(human_scale=h_scale, metric_center=x_center,
                                 metric_scale=x_scale)
    result.statistical_model = f"paired_{likelihood}"
    result.code_version = MODEL_VERSIONS[likelihood]
    result.idata = idata
    return result


def _name_pair_fit(idata, likelihood: str, groups_dim: str, groups: list[str], auto_cols,
                   levels) -> None:
    """Name the pair model's dimensions: a group's level ``a`` and bias, the metrics'
    slopes, the ordinal levels and cut points."""
    dims = {"beta": ("auto_metric",), "gamma": ("auto_metric",), "bias": (groups_dim,),
            "a": (groups_dim,), "p_cat": ("level",), "cut": ("cut_point",)}
    coords = {"auto_metric": metric_names(auto_cols), groups_dim: list(groups),
              "level": [] if levels is None else [float(x) for x in levels],
              "cut_point": [] if levels is None else list(range(len(levels) - 1))}
    name_dims(idata, dims, coords)


def _request_counts(rows, incumbent, candidate, human_col, item_col, model_col, group_col,
                    groups) -> tuple[np.ndarray, np.ndarray]:
    """Per group: the requests labelled for both models, and those answered by both and not
    labelled for both (what a label plan can still ask for)."""
    status = request_status(rows, incumbent, candidate, human_col, item_col, model_col,
                            group_col)
    codes = (pd.Categorical(status["group"].astype(str), categories=groups).codes
             if group_col else np.zeros(len(status), dtype=int))
    both = status["labelled"].to_numpy()
    return (np.bincount(codes[both], minlength=len(groups)),
            np.bincount(codes[~both], minlength=len(groups)))


def _comparison(incumbent, candidate, delta, per_group, counts, groups, labelled, group_codes,
                requests, margin, prob, likelihood, diagnostics) -> Comparison:
    """Decide from the draws of Δ (overall and per group) and assemble the ``Comparison``.
    ``labelled`` flags the pair's labelled rows; ``group_codes`` gives each row's group
    (None without ``group_col``: no per-group decisions); ``requests`` is
    ``_request_counts``' labelled and unlabelled requests per group, for the label plan."""
    n_labeled = int(labelled.sum())
    diagnostics = {**diagnostics, "failures": fit_failures(diagnostics)}
    fit_ok = not diagnostics["failures"]
    done, open_ = requests
    verdict = decide(delta, margin=margin, prob=prob, n_labels=int(done.sum()), fit_ok=fit_ok,
                     n_unlabelled=int(open_.sum()))
    group_verdicts = {}
    if group_codes is not None:
        for g, name in enumerate(groups):
            if counts[g]:
                group_labels = int((labelled & (group_codes == g)).sum())
                group_verdicts[name] = (decide(per_group[:, g], margin, prob, int(done[g]),
                                               fit_ok, int(open_[g])),
                                        group_labels, int(done[g]), int(open_[g]))
    decision, needed, plan = _every_group_rule(verdict,
                                               [v for v, *_ in group_verdicts.values()])
    return Comparison(
        incumbent=incumbent,
        candidate=candidate,
        delta_mean=verdict.delta_mean,
        ci_low=verdict.ci_low,
        ci_high=verdict.ci_high,
        p_candidate_better=verdict.p_better,
        decision=decision,
        n_labeled=n_labeled,
        n_unlabeled=int((~labelled).sum()),
        labels_needed=needed,
        margin=float(margin),
        prob=float(prob),
        likelihood=likelihood,
        diagnostics=diagnostics,
        labelled_requests=int(done.sum()),
        unlabelled_requests=int(open_.sum()),
        plan=plan,
        settle_prob=verdict.settle_prob,
        groups={name: _group_summary(*summary) for name, summary in group_verdicts.items()},
        draws=delta,
        group_draws={name: per_group[:, g] for g, name in enumerate(groups) if counts[g]}
        if group_codes is not None else {},
    )


def _group_summary(verdict, n_labels: int, labelled_requests: int,
                   unlabelled_requests: int) -> dict:
    return {"delta_mean": verdict.delta_mean, "ci_low": verdict.ci_low,
            "ci_high": verdict.ci_high, "p_candidate_better": verdict.p_better,
            "decision": verdict.decision, "n_labeled": n_labels,
            "labelled_requests": labelled_requests, "unlabelled_requests": unlabelled_requests,
            "labels_needed": verdict.labels_needed, "settle_prob": verdict.settle_prob,
            "plan": verdict.plan}


def _every_group_rule(overall, group_verdicts) -> tuple[str, int | None, str | None]:
    """(decision, labels_needed, plan). Migrate only when Δ clears the margin overall and in
    every group; hold when it is below the margin overall or in any group; fit_failed when
    the fit failed; otherwise more labels: the overall plan or, if more, the sum of the
    undecided groups' plans (each group rests on its own labels, so they add up), and
    ``cannot_settle`` when any undecided slice cannot be settled by labelling."""
    verdicts = [overall, *group_verdicts]
    if overall.decision == "fit_failed":
        return "fit_failed", None, None
    if any(v.decision == "hold" for v in verdicts):
        return "hold", None, None
    if all(v.decision == "migrate" for v in verdicts):
        return "migrate", None, None
    undecided = [v for v in verdicts if v.decision == "need_more_labels"]
    if any(v.plan == "cannot_settle" for v in undecided):
        return "need_more_labels", None, "cannot_settle"
    by_groups = sum(v.labels_needed or 0 for v in group_verdicts if v.decision != "migrate")
    return "need_more_labels", max(overall.labels_needed or 0, by_groups) or None, "label"


@dataclass
class MultiComparison:
    """Several candidates against one incumbent: one ``Comparison`` each, and P(best)."""

    incumbent: str
    comparisons: list[Comparison]
    p_best: dict[str, float]  # P(this model has the highest mean human score); sums to 1
    method: str = "pairwise"  # "joint": one model for all candidates; "pairwise": a fit each

    def to_dict(self) -> dict:
        return {"incumbent": self.incumbent,
                "comparisons": [c.to_dict() for c in self.comparisons],
                "p_best": self.p_best, "method": self.method}


def p_best(incumbent: str, deltas: dict[str, np.ndarray]) -> dict[str, float]:
    """P(best) for the incumbent (Δ = 0) and each candidate from posterior draws of the
    candidates' Δ, matched draw by draw. Ties (equal draws) are shared evenly."""
    names = [incumbent, *deltas]
    n_draws = min(len(d) for d in deltas.values())
    table = np.column_stack([np.zeros(n_draws),
                             *(np.asarray(d)[:n_draws] for d in deltas.values())])
    is_best = table == table.max(axis=1, keepdims=True)
    share = (is_best / is_best.sum(axis=1, keepdims=True)).mean(axis=0)
    return {name: float(p) for name, p in zip(names, share)}


def compare_many(frame: pd.DataFrame, incumbent: str, candidates, *, joint: bool = True,
                 **kwargs) -> MultiComparison:
    """Each candidate against the incumbent (same arguments as ``compare``) and the
    probability that each model, incumbent included, is the best on this dimension.

    With two or more candidates and continuous labels (``joint=True``, the default) one model
    fits them all (``pipeline.stats.joint``): the metric's bias per model is pooled
    across models, and P(best) comes from the joint posterior, whose Δs are correlated
    because they share the incumbent's labels. Otherwise (``joint=False``, one candidate,
    0/1 or ordinal labels, or design weights) each pair is fitted on its own by ``compare``;
    the draws of different candidates are then independent, so P(best) errs towards ties,
    never towards a confident wrong ranking.
    """
    candidates = [str(c) for c in candidates]
    if not candidates:
        raise ValueError("compare: no candidate given")
    if len(set(candidates)) != len(candidates):
        raise ValueError("compare: a candidate is listed twice")
    if joint and len(candidates) > 1 and kwargs.get("weight_col") is None:
        result = _compare_joint(frame, str(incumbent), candidates, **kwargs)
        if result is not None:
            return result
    seed = kwargs.pop("seed", 0)
    # a seed per fit: the same seed would correlate the draws that P(best) matches up
    results = [compare(frame, incumbent, name, seed=seed + i, **kwargs)
               for i, name in enumerate(candidates)]
    return MultiComparison(
        incumbent=str(incumbent),
        comparisons=results,
        p_best=p_best(str(incumbent), {r.candidate: r.draws for r in results}),
        method="pairwise",
    )


def _compare_joint(frame, incumbent, candidates, human_col="human", auto_cols=("auto",),
                   item_col="item_id", model_col="model", group_col=None, margin=0.0,
                   prob=0.95, seed=0, *, draws=None, tune=1000, chains=2,
                   likelihood="auto", weight_col=None) -> MultiComparison | None:
    """``compare_many`` through the joint model; None when the labels are not continuous
    (the caller then fits each pair)."""
    auto_cols = [auto_cols] if isinstance(auto_cols, str) else list(auto_cols)
    checked = [_validate(frame, incumbent, name, human_col, auto_cols, item_col, model_col,
                         group_col) for name in candidates]
    rows = frame[frame[model_col].astype(str).isin([incumbent, *candidates])].copy()
    rows[model_col] = rows[model_col].astype(str)
    labels = rows[human_col].dropna().to_numpy(dtype=float)
    if _choose_likelihood(likelihood, labels, human_col)[0] != "gaussian":
        return None
    for name, pair in zip(candidates, checked):
        _require_paired_labels(pair, incumbent, name, human_col, item_col, model_col)
    idata, deltas, groups = fit_joint(rows, incumbent, candidates, human_col, auto_cols,
                                      item_col, model_col, group_col, draws=draws,
                                      tune=tune, chains=chains, seed=seed)
    fit_diagnostics = diagnostics(idata)
    comparisons = []
    for name, pair in zip(candidates, checked):
        per_group, delta, counts = deltas[name]
        group_codes = (pd.Categorical(pair[group_col].astype(str), categories=groups).codes
                       if group_col else None)
        requests = _request_counts(pair, incumbent, name, human_col, item_col, model_col,
                                   group_col, groups)
        comparisons.append(_comparison(incumbent, name, delta, per_group, counts, groups,
                                       pair[human_col].notna().to_numpy(), group_codes,
                                       requests, margin, prob, "gaussian", fit_diagnostics))
        comparisons[-1].statistical_model = "joint_gaussian"
        comparisons[-1].code_version = JOINT_MODEL_VERSION
        comparisons[-1].idata = idata  # one fit for every candidate
    return MultiComparison(
        incumbent=incumbent, comparisons=comparisons,
        p_best=p_best(incumbent, {c.candidate: c.draws for c in comparisons}),
        method="joint",
    )
