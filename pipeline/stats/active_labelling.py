"""Active labelling: which items to label next, and an unbiased Δ from the labels so chosen.

Plain Python (no Dagster). After Zrnic & Candès (2024), "Active
Statistical Inference" (ICML): label where the prediction is least certain, and undo the
unequal selection with inverse-probability weights so the estimate stays unbiased.

Population and estimand. The N items answered by both models (one row per (item, model) in
the frame; repeated rows of one pair are averaged). d_i = human[i, candidate] −
human[i, incumbent] and Δ = (1/N) Σ_i d_i. An item is *labelled* when both of its responses
carry a human label.

Design of one round t (``propose_labels``):

1. From the items labelled before the round (by earlier rounds or otherwise), fit a
   prediction of the difference, f_i = c + dX_i · b (least squares; dX_i = candidate −
   incumbent metrics; intercept only with few labels, 0 with none), and a model of the size of
   its error, u_i ≈ E|d_i − f_i| (least squares of |residual| on [1, |dX_i|, level_i],
   level_i = mean of the two responses' metrics; clipped below; constant with few labels).
   Both are fixed numbers during the round. (``uncertainty=`` replaces u, e.g. with
   ``sd_predictive`` from :mod:`pipeline.predictive`.)
2. Inclusion probabilities for *every* item (Neyman allocation with a uniform floor):
   g_i = (1 − floor) u_i / mean(u) + floor,  pi_i = min(1, c g_i), with c such that the
   expected number of *new* labels Σ_{i unlabelled} pi_i = k. pi ∝ u minimises the variance
   below for a given budget; the floor keeps pi_i ≥ c·floor > 0, so weights 1/pi are bounded.
3. Poisson sampling: each item is selected independently with probability pi_i. Selected
   items that are already labelled cost nothing (their label is reused); the number of new
   labels is random with mean k.

Estimator of one round (``ht_ppi_estimate``; S_t the selected items)::

    Δ̂_t = (1/N) Σ_{i=1..N} f_i  +  (1/N) Σ_{i∈S_t} (d_i − f_i) / pi_i

Bias correction: E[1{i∈S_t}] = pi_i, so the second term has expectation (1/N) Σ_i (d_i − f_i)
exactly: whatever the prediction's bias (a metric that flatters one model), E[Δ̂_t | past] = Δ.
f and pi come from earlier labels only, so there is no bias from fitting on the same labels.
Variance (independent Poisson indicators) and its unbiased estimate::

    Var_t = (1/N²) Σ_i (1 − pi_i)/pi_i · (d_i − f_i)²
    V̂_t   = (1/N²) Σ_{i∈S_t} (1 − pi_i)/pi_i² · (d_i − f_i)²

Several rounds (``active_estimate``): Δ̂ = Σ_t w_t Δ̂_t with fixed weights w_t = k_t / Σ k
(each round's expected new labels; ``combine="budget"``). Each Δ̂_t − Δ has conditional mean 0
given the earlier rounds, so the terms are uncorrelated: Δ̂ is unbiased, Var Δ̂ =
Σ_t w_t² E[Var_t], estimated by V̂ = Σ_t w_t² V̂_t. ``combine="precision"`` uses
w_t ∝ 1/V̂_t instead (narrower, but data-dependent weights: unbiased only up to O(1/n)).
Interval: Δ̂ ± z_{1−alpha/2} sqrt(V̂) (normal approximation, a martingale CLT; see
benchmarks/bench_active_labelling.py for its coverage). A first round without labels is
uniform with f = 0 (a Horvitz–Thompson human-only mean); later rounds learn f and u.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from pipeline.stats.frames import check_comparison_frame

__all__ = [
    "ActiveEstimate",
    "active_estimate",
    "ht_ppi_estimate",
    "inclusion_probabilities",
    "propose_labels",
]

MIN_LABELS_FOR_SLOPE = 2  # beyond the number of coefficients: fewer → intercept-only f
MIN_LABELS_PER_SCALE_COEF = 4  # labelled items per |residual| coefficient before u is learned
RESIDUAL_CLIP = 0.1  # predicted |residual| at least this fraction of the mean |residual|


@dataclass(frozen=True)
class ActiveEstimate:
    mean: float  # Δ̂
    se: float  # sqrt(V̂)
    ci_low: float
    ci_high: float
    n_labeled: int  # items in the sample (each labelled for both models)
    n_items: int  # N, the population of paired items

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Paired:
    items: pd.Index  # item ids of the N paired items
    dX: np.ndarray  # N x K, candidate − incumbent metrics
    level: np.ndarray  # N x K, mean of the two responses' metrics
    d: np.ndarray  # N, candidate − incumbent human score (NaN unless both labelled)


# ----------------------------------------------------------------------------- validation
def _auto_list(auto_cols) -> list[str]:
    return [auto_cols] if isinstance(auto_cols, str) else list(auto_cols)


def _validate(where, frame, incumbent, candidate, auto_cols, item_col, model_col, human_col):
    if not auto_cols:
        raise ValueError(f"{where}: auto_cols is empty")
    check_comparison_frame(where, frame, [item_col, model_col, human_col, *auto_cols],
                           model_col, incumbent, candidate)
    for col in [human_col, *auto_cols]:
        if not pd.api.types.is_numeric_dtype(frame[col]):
            raise ValueError(f"{where}: column {col!r} must be numeric")
    rows = frame[frame[model_col].astype(str).isin([str(incumbent), str(candidate)])]
    bad = [c for c in auto_cols if rows[c].isna().any() or not np.isfinite(rows[c]).all()]
    if bad:
        raise ValueError(f"{where}: automated score column {bad[0]!r} has missing or "
                         "non-finite values")
    return rows


def _per_item_mean(codes: np.ndarray, values: np.ndarray, n_items: int) -> np.ndarray:
    """Mean of ``values`` per item code, skipping NaN (NaN where an item has none)."""
    ok = np.isfinite(values)
    count = np.bincount(codes[ok], minlength=n_items)
    total = np.bincount(codes[ok], weights=values[ok], minlength=n_items)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _paired_items(rows, incumbent, candidate, auto_cols, item_col, model_col, human_col) -> _Paired:
    """One entry per item answered by both models (means over repeated rows); numpy
    bincounts rather than a pandas groupby, which dominated the cost of a proposal."""
    codes, items = pd.factorize(rows[item_col], sort=True)
    is_cand = (rows[model_col].astype(str) == str(candidate)).to_numpy()
    n = len(items)
    answered = [np.bincount(codes[mask], minlength=n) > 0 for mask in (~is_cand, is_cand)]
    both = answered[0] & answered[1]
    if not both.any():
        raise ValueError("propose_labels: no item was answered by both models")
    X = rows[list(auto_cols)].to_numpy(float)
    xi, xc = (np.column_stack([_per_item_mean(codes[mask], X[mask, j], n)[both]
                               for j in range(X.shape[1])]) for mask in (~is_cand, is_cand))
    human = rows[human_col].to_numpy(float)
    d = (_per_item_mean(codes[is_cand], human[is_cand], n)
         - _per_item_mean(codes[~is_cand], human[~is_cand], n))[both]
    return _Paired(items=pd.Index(items[both]), dX=xc - xi, level=(xc + xi) / 2, d=d)


# ----------------------------------------------------------------------------- design
def _fit_prediction(dX: np.ndarray, d: np.ndarray):
    """Coefficients [c, b...] of f = c + dX b by least squares (intercept only when labels
    are few; f = 0 without labels)."""
    n, k = dX.shape
    if n == 0:
        return np.zeros(k + 1)
    if n < k + 1 + MIN_LABELS_FOR_SLOPE:
        return np.r_[d.mean(), np.zeros(k)]
    coef, *_ = np.linalg.lstsq(np.column_stack([np.ones(n), dX]), d, rcond=None)
    return coef


def _predict(coef: np.ndarray, dX: np.ndarray) -> np.ndarray:
    return coef[0] + dX @ coef[1:]


def _scale_features(paired: _Paired) -> np.ndarray:
    return np.column_stack([np.ones(len(paired.d)), np.abs(paired.dX), paired.level])


def _fit_residual_scale(paired: _Paired, labelled: np.ndarray,
                        prediction: np.ndarray) -> np.ndarray:
    """u_i ≈ E|d_i − f_i| for every item: least squares of |residual| on the scale features,
    clipped below at RESIDUAL_CLIP x mean |residual|; constant (uniform design) with too few
    labels to learn it. (Neyman's pi ∝ sqrt(E r²) is ∝ E|r| when the residual's shape is the
    same everywhere, e.g. normal; |r| is a far less noisy regression target than r².)"""
    Z = _scale_features(paired)
    if labelled.sum() < MIN_LABELS_PER_SCALE_COEF * Z.shape[1]:
        return np.ones(len(paired.d))
    abs_resid = np.abs(paired.d[labelled] - prediction[labelled])
    coef, *_ = np.linalg.lstsq(Z[labelled], abs_resid, rcond=None)
    lowest = max(RESIDUAL_CLIP * abs_resid.mean(), 1e-12)
    return np.clip(Z @ coef, lowest, None)


def _given_uncertainty(uncertainty, rows, paired, item_col, model_col, incumbent, candidate):
    """Per-item uncertainty of the difference from a per-row sd column (root sum of squares of
    the two responses' sds, as if independent) or from a Series / dict keyed by item id."""
    if isinstance(uncertainty, str):
        if uncertainty not in rows.columns:
            raise ValueError(f"propose_labels: missing columns: {uncertainty}")
        with_model = rows.assign(_model=rows[model_col].astype(str))
        by_item_model = with_model.groupby([item_col, "_model"])
        sd = by_item_model[uncertainty].mean()
        u = np.sqrt(sd.xs(str(incumbent), level="_model").reindex(paired.items) ** 2
                    + sd.xs(str(candidate), level="_model").reindex(paired.items) ** 2)
    else:
        u = pd.Series(uncertainty, dtype=float).reindex(paired.items)
    u = u.to_numpy(float)
    if not np.all(np.isfinite(u)) or np.any(u < 0):
        raise ValueError("propose_labels: uncertainty must be a finite number >= 0 for every item")
    return u


def inclusion_probabilities(uncertainty, k: float, floor: float = 0.2, counted=None) -> np.ndarray:
    """pi_i = min(1, c g_i), g_i = (1 − floor) u_i / mean(u) + floor, with c such that
    Σ_{i counted} pi_i = k (the expected number of selected ``counted`` items: the ones that cost
    a label; default all). All items get pi from the same rule, so pi_i ≥ min(1, c floor) > 0.

    ``uncertainty``: u_i ≥ 0 (all zero → uniform). ``floor`` in (0, 1]: share of the budget
    spread uniformly, which bounds every weight 1/pi_i by 1 / (c floor).
    """
    u = np.asarray(uncertainty, dtype=float)
    counted = np.ones(u.size, bool) if counted is None else np.asarray(counted, bool)
    if not 0 < floor <= 1:
        raise ValueError("inclusion_probabilities: floor must be in (0, 1]")
    if not 0 < k <= counted.sum():
        raise ValueError(
            f"inclusion_probabilities: k must be in (0, {int(counted.sum())}], got {k}")
    if not (np.all(np.isfinite(u)) and np.all(u >= 0)):
        raise ValueError("inclusion_probabilities: uncertainty must be finite and >= 0")
    g = (1 - floor) * (u / u.mean() if u.mean() > 0 else np.ones(u.size)) + floor
    capped = np.zeros(u.size, bool)
    while True:  # raise c until the uncapped counted items absorb what the capped ones cannot
        free = counted & ~capped
        c = (k - (counted & capped).sum()) / g[free].sum() if free.any() else np.inf
        newly = ~capped & (c * g > 1)
        if not newly.any():
            return np.minimum(c * g, 1.0)
        capped |= newly


def propose_labels(
    frame: pd.DataFrame,
    k: int,
    incumbent: str,
    candidate: str,
    auto_cols=("auto",),
    item_col: str = "item_id",
    model_col: str = "model",
    human_col: str = "human",
    uncertainty=None,
    seed: int = 0,
    floor: float = 0.2,
) -> pd.DataFrame:
    """One round of active labelling: propose about ``k`` new items to label (both models'
    responses of each), by Poisson sampling with probabilities proportional to the predicted
    error of the automated prediction of the paired difference, mixed with a uniform floor
    (module docstring for the design and the estimator).

    ``uncertainty``: None (learn u from the items already labelled; constant, i.e. uniform,
    with fewer than 4 (1 + 2K) of them), a column name of per-row sds (e.g. ``sd_predictive``
    from ``pipeline.predictive.predictive_moments``; combined per item as sqrt(sd_I² + sd_C²)),
    or a Series / dict item id → uncertainty of the difference, for every paired item.

    Returns one row per item answered by both models, the new labels to collect first:
    ``item_col``; ``labelled`` (labelled for both models before this round); ``uncertainty``
    (u_i); ``prediction`` (f_i); ``inclusion_prob`` (pi_i in (0, 1]; Σ over unlabelled items = k);
    ``weight`` (1/pi_i); ``selected`` (drawn this round); ``to_label`` (selected and not yet
    labelled: send these to annotators). Keep it: ``active_estimate`` needs every round's
    design together with the labels.
    """
    auto_cols = _auto_list(auto_cols)
    rows = _validate("propose_labels", frame, incumbent, candidate, auto_cols, item_col,
                     model_col, human_col)
    if not (isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 1):
        raise ValueError(f"propose_labels: k must be a positive integer, got {k!r}")
    if not 0 < floor <= 1:
        raise ValueError(f"propose_labels: floor must be in (0, 1], got {floor!r}")
    paired = _paired_items(rows, incumbent, candidate, auto_cols, item_col, model_col, human_col)
    labelled = np.isfinite(paired.d)
    if k > (~labelled).sum():
        raise ValueError(
            f"propose_labels: k={k} is larger than the {int((~labelled).sum())} unlabelled items"
        )
    prediction = _predict(_fit_prediction(paired.dX[labelled], paired.d[labelled]), paired.dX)
    if uncertainty is None:
        u = _fit_residual_scale(paired, labelled, prediction)
    else:
        u = _given_uncertainty(uncertainty, rows, paired, item_col, model_col, incumbent, candidate)
    pi = inclusion_probabilities(u, k, floor, counted=~labelled)
    selected = np.random.default_rng(seed).random(len(pi)) < pi
    out = pd.DataFrame({
        item_col: paired.items.to_numpy(), "labelled": labelled, "uncertainty": u,
        "prediction": prediction, "inclusion_prob": pi, "weight": 1.0 / pi,
        "selected": selected, "to_label": selected & ~labelled,
    })
    out.attrs.update(design="poisson", expected_labels=int(k), floor=float(floor),
                     incumbent=str(incumbent), candidate=str(candidate))
    return out.sort_values(["to_label", "selected", "inclusion_prob"], ascending=False,
                           kind="stable", ignore_index=True)


# ----------------------------------------------------------------------------- estimate
def _round_moments(f, d, pi, selected) -> tuple[float, float]:
    """(Δ̂_t, V̂_t) of one round; d is read on the selected items only."""
    n = len(f)
    resid, p = d[selected] - f[selected], pi[selected]
    return float(f.mean() + (resid / p).sum() / n), float(((1 - p) / p**2 * resid**2).sum() / n**2)


def _interval(mean: float, var: float, alpha: float, n_labeled: int,
              n_items: int) -> ActiveEstimate:
    z = stats.norm.ppf(1 - alpha / 2)
    se = float(np.sqrt(var))
    return ActiveEstimate(mean=float(mean), se=se, ci_low=float(mean - z * se),
                          ci_high=float(mean + z * se), n_labeled=int(n_labeled),
                          n_items=int(n_items))


def ht_ppi_estimate(prediction, d, inclusion_prob, selected, alpha: float = 0.05) -> ActiveEstimate:
    """One round: Δ̂ = mean(f) + (1/N) Σ_S (d − f)/pi, V̂ = (1/N²) Σ_S (1 − pi)/pi² (d − f)²,
    interval Δ̂ ± z sqrt(V̂). Arrays over all N items; ``d`` is read only where ``selected``.
    """
    f, d, pi = (np.asarray(a, dtype=float) for a in (prediction, d, inclusion_prob))
    selected = np.asarray(selected, dtype=bool)
    if not (f.ndim == 1 and f.shape == d.shape == pi.shape == selected.shape):
        raise ValueError(
            "ht_ppi_estimate: prediction, d, inclusion_prob, selected: 1-d, same length")
    if np.any(~(pi > 0) | (pi > 1)):
        raise ValueError("ht_ppi_estimate: inclusion probabilities must be in (0, 1]")
    if not np.all(np.isfinite(d[selected])):
        raise ValueError("ht_ppi_estimate: d must be finite on the selected items")
    mean, var = _round_moments(f, d, pi, selected)
    return _interval(mean, var, alpha, selected.sum(), len(f))


def _paired_differences(frame, items, incumbent, candidate, item_col, model_col, human_col):
    """d_i for the design's items (NaN unless labelled for both models)."""
    codes = items.get_indexer(frame[item_col])
    model = frame[model_col].astype(str).to_numpy()
    human = frame[human_col].to_numpy(float)
    means = [_per_item_mean(codes[keep], human[keep], len(items))
             for keep in ((model == str(m)) & (codes >= 0) for m in (candidate, incumbent))]
    return means[0] - means[1]


def _round_weights(combine: str, budgets: np.ndarray, variances: np.ndarray) -> np.ndarray:
    if combine == "precision" and np.all(variances > 0):
        return (1 / variances) / np.sum(1 / variances)
    return budgets / budgets.sum()  # also when a round is a census (V̂_t = 0)


def active_estimate(
    frame: pd.DataFrame,
    designs,
    incumbent: str,
    candidate: str,
    item_col: str = "item_id",
    model_col: str = "model",
    human_col: str = "human",
    alpha: float = 0.05,
    combine: str = "budget",
) -> ActiveEstimate:
    """Unbiased Δ (candidate − incumbent) with a normal (1 − alpha) interval from the labels
    collected for one or more ``propose_labels`` rounds (estimator, weights and variance:
    module docstring).

    ``frame``: the scored rows with the labels; ``designs``: the DataFrame ``propose_labels``
    returned, or a list of them (one per round; all over the same items). Every selected item
    of every round must now be labelled for both models. Labels that no round selected (e.g.
    collected before the first design) are not used by the estimate (they did train f and u).
    ``n_labeled`` counts the distinct selected items.

    ``combine`` (several rounds): "budget" (w_t ∝ the round's expected new labels: fixed
    weights, exactly unbiased) or "precision" (w_t ∝ 1/V̂_t: narrower when a round is much
    more informative per label than another, e.g. an active round after a uniform first round
    without a prediction; the weights depend on the data, so unbiased only up to O(1/n)).
    """
    if combine not in ("budget", "precision"):
        raise ValueError(
            f"active_estimate: combine must be 'budget' or 'precision', got {combine!r}")
    designs = [designs] if isinstance(designs, pd.DataFrame) else list(designs)
    if not designs:
        raise ValueError("active_estimate: no design given")
    check_comparison_frame("active_estimate", frame, [item_col, model_col, human_col],
                           model_col, incumbent, candidate)
    needed = [item_col, "prediction", "inclusion_prob", "labelled", "selected"]
    for design in designs:
        missing = [c for c in needed if c not in design.columns]
        if missing:
            raise ValueError(f"active_estimate: design is missing columns: {', '.join(missing)}")
    items = pd.Index(designs[0][item_col]).sort_values()
    if any(not pd.Index(design[item_col]).sort_values().equals(items) for design in designs):
        raise ValueError("active_estimate: the designs cover different items")
    d = _paired_differences(frame, items, incumbent, candidate, item_col, model_col, human_col)
    means, variances, budgets, ever = [], [], [], np.zeros(len(items), bool)
    for design in designs:
        design = design.set_index(item_col).loc[items]
        selected = design["selected"].to_numpy(bool)
        missing = items[selected & ~np.isfinite(d)]
        if len(missing):
            shown = ", ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else "")
            raise ValueError(f"active_estimate: {len(missing)} selected item(s) not labelled "
                             f"for both models: {shown}")
        pi = design["inclusion_prob"].to_numpy(float)
        m, v = _round_moments(design["prediction"].to_numpy(float), d, pi, selected)
        means.append(m)
        variances.append(v)
        budgets.append(pi[~design["labelled"].to_numpy(bool)].sum())  # expected new labels k_t
        ever |= selected
    w = _round_weights(combine, np.asarray(budgets), np.asarray(variances))
    return _interval(w @ np.asarray(means), (w**2) @ np.asarray(variances), alpha, ever.sum(),
                     len(items))
