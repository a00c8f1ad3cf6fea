"""Per-row posterior-predictive mean and sd for millions of rows in one vectorised pass.

Plain Python (no Dagster): per-row predictive mean and sd for all rows in one vectorised pass,
never a loop over draws x rows.

Setting: a calibration model maps the automated scores ``x`` (a row of ``X``, K metrics) of
a response to the human scale through a linear predictor ``eta = x @ beta + a``; the
posterior is represented by S draws of ``(beta, a)`` (and optionally a noise scale
``sigma``). The brute-force answer evaluates ``eta`` for every (draw, row): O(S x N x K)
work and, done naively, S x N memory. Here only the first two posterior moments of
``(beta, a)`` enter:

    m(x) = E[eta(x)]   = x @ E[beta] + E[a]
    v(x) = Var[eta(x)] = [x, 1] C [x, 1]^T,   C = Cov([beta, a]) over the draws,

and ``v`` is computed for all rows as ``((X @ L[:K] + L[K]) ** 2).sum(1)`` with
``C = L L^T`` (an eigen factor, robust to a singular C), so the cost is O(N x K^2) and the
memory one chunk of rows. For a linear link both moments are *exact* functions of the
draws (no approximation: the brute-force mean and variance over the draws are the same
numbers up to rounding). For the logit link the posterior of ``eta`` is approximated by
``Normal(m, v)`` and ``E[sigmoid(eta)]`` and ``E[sigmoid(eta)^2]`` are integrated by
Gauss-Hermite quadrature (20 nodes), which is exact up to the normal approximation.

What the two sds mean (both are returned):

* ``sd_epistemic``: posterior sd of the row's *expected* human score, i.e. of
  ``E[y | x, theta]`` over the posterior of theta. It shrinks to 0 as labels accumulate;
  it is the uncertainty of a mean score (and the right input when averaging many rows).
* ``sd_predictive``: sd of *one new human label* for that row under the posterior
  predictive (law of total variance: epistemic + aleatoric).
  identity link: ``sqrt(v + E[sigma^2])``; logit link: the label is Bernoulli with
  ``P(y=1) = p = E[sigmoid(eta)]`` so ``sd = sqrt(p (1 - p))``, which already contains the
  epistemic part (``Var y = E[p_theta (1 - p_theta)] + Var p_theta = p (1 - p)``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["PredictiveMoments", "predictive_moments", "moments_by_draws"]

LINKS = ("identity", "logit")
_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(20)  # for E over Normal(0, 1)
_GH_WEIGHTS = _GH_WEIGHTS / _GH_WEIGHTS.sum()


class PredictiveMoments(NamedTuple):
    """Per-row moments on the human scale (arrays of length N)."""

    mean: np.ndarray  # posterior-predictive mean E[y | x]
    sd_epistemic: np.ndarray  # posterior sd of E[y | x, theta] (uncertainty of the mean score)
    sd_predictive: np.ndarray  # sd of one new label y | x (epistemic + aleatoric)


# ----------------------------------------------------------------------------- validation
def _as_2d_float(name: str, value) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"predictive_moments: {name} must be 1- or 2-dimensional")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"predictive_moments: {name} has non-finite values")
    return arr


def _draw_vector(name: str, value, n_draws: int) -> np.ndarray | None:
    if value is None:
        return None
    arr = np.asarray(value, dtype=float).reshape(-1)
    if arr.shape != (n_draws,):
        raise ValueError(
            f"predictive_moments: {name} must have one value per draw ({n_draws}), "
            f"got shape {np.shape(value)}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"predictive_moments: {name} has non-finite values")
    return arr


def _validate(X, coef_draws, intercept_draws, sigma_draws, link):
    if link not in LINKS:
        raise ValueError(f"predictive_moments: unknown link {link!r}; use one of {LINKS}")
    X = _as_2d_float("X", X)
    coef = _as_2d_float("coef_draws", coef_draws)
    if coef.shape[1] != X.shape[1]:
        raise ValueError(
            f"predictive_moments: coef_draws has {coef.shape[1]} coefficients per draw but X "
            f"has {X.shape[1]} columns"
        )
    if coef.shape[0] < 2:
        raise ValueError("predictive_moments: need at least 2 posterior draws")
    intercept = _draw_vector("intercept_draws", intercept_draws, coef.shape[0])
    sigma = _draw_vector("sigma_draws", sigma_draws, coef.shape[0])
    if sigma is not None and np.any(sigma < 0):
        raise ValueError("predictive_moments: sigma_draws must be >= 0")
    return X, coef, intercept, sigma


# ----------------------------------------------------------------------------- helpers
def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _joint_moments(coef: np.ndarray, intercept: np.ndarray | None):
    """Mean and factor L (C = L L^T) of the joint draws of (beta, a); population covariance
    (ddof=0) so the variance is exactly the variance over the draws."""
    joint = coef if intercept is None else np.column_stack([coef, intercept])
    mean = joint.mean(0)
    centred = joint - mean
    cov = centred.T @ centred / len(joint)
    eigval, eigvec = np.linalg.eigh(cov)
    factor = eigvec * np.sqrt(np.clip(eigval, 0.0, None))  # singular C (e.g. a fixed coef) is fine
    return mean, factor


def _random_effect_shrinkage(sigma: np.ndarray | None) -> float:
    """kappa with E_u[sigmoid(eta + u)] ~ sigmoid(kappa * eta), u ~ Normal(0, sigma^2): the
    probit approximation (MacKay 1992), with E[sigma^2] over the draws."""
    if sigma is None:
        return 1.0
    return float(1.0 / np.sqrt(1.0 + np.pi * np.mean(sigma**2) / 8.0))


def _logit_moments(m: np.ndarray, v: np.ndarray, kappa: float):
    """E and sd over eta ~ Normal(m, v) of p = sigmoid(kappa * eta) (Gauss-Hermite)."""
    p = _sigmoid(kappa * (m[:, None] + np.sqrt(v)[:, None] * _GH_NODES[None, :]))
    mean = p @ _GH_WEIGHTS
    second = (p * p) @ _GH_WEIGHTS
    return mean, np.sqrt(np.clip(second - mean**2, 0.0, None))


# ----------------------------------------------------------------------------- public
def predictive_moments(
    X,
    coef_draws,
    intercept_draws=None,
    sigma_draws=None,
    link: str = "identity",
    chunk_rows: int = 262_144,
) -> PredictiveMoments:
    """Posterior-predictive mean and sds of the human score for every row of ``X``.

    Parameters
    ----------
    X : (N, K) automated scores (already on the scale the model was fitted on).
    coef_draws : (S, K) posterior draws of the metric coefficients beta.
    intercept_draws : (S,) draws of the intercept a (optional; 0 when absent).
    sigma_draws : (S,) draws of a noise scale (optional). identity link: the sd of the
        Gaussian label noise (enters ``sd_predictive`` as ``E[sigma^2]``). logit link: the sd of
        a Normal random effect on the logit scale that a new row does not know (e.g. a fresh
        item effect), integrated by the probit approximation
        ``E_u sigmoid(eta + u) ~ sigmoid(eta / sqrt(1 + pi E[sigma^2] / 8))``.
    link : "identity" (Gaussian human scale) or "logit" (binary labels).
    chunk_rows : rows per vectorised block; bounds the memory (O(chunk_rows x 20) floats).

    Returns
    -------
    PredictiveMoments(mean, sd_epistemic, sd_predictive), each of length N. With
    eta = x beta + a, m = E[eta], v = Var[eta] over the draws:

    * identity: mean = m, sd_epistemic = sqrt(v), sd_predictive = sqrt(v + E[sigma^2]);
      exact moments of the draws (the brute-force loop over draws gives the same numbers).
    * logit: eta's posterior approximated by Normal(m, v); p = E[sigmoid(kappa eta)],
      sd_epistemic = sd of sigmoid(kappa eta), sd_predictive = sqrt(p (1 - p)) (Bernoulli).
      Error vs the brute force over draws is that of the normal approximation of eta (and of
      the probit approximation when ``sigma_draws`` is given); see tests/test_predictive.py.

    Cost O(N K^2 + S K^2) with no S x N array; 1,000,000 rows x 3 metrics take well under a
    second (benchmarks/bench_predictive.py).
    """
    X, coef, intercept, sigma = _validate(X, coef_draws, intercept_draws, sigma_draws, link)
    if chunk_rows < 1:
        raise ValueError("predictive_moments: chunk_rows must be >= 1")
    k = X.shape[1]
    mean_b, factor = _joint_moments(coef, intercept)
    const_mean = mean_b[k] if intercept is not None else 0.0
    const_factor = factor[k] if intercept is not None else np.zeros(factor.shape[1])
    noise_var = float(np.mean(sigma**2)) if sigma is not None else 0.0
    kappa = _random_effect_shrinkage(sigma)

    n = X.shape[0]
    mean, sd_epi, sd_pred = (np.empty(n) for _ in range(3))
    for start in range(0, n, chunk_rows):
        rows = slice(start, start + chunk_rows)
        xc = X[rows]
        m = xc @ mean_b[:k] + const_mean
        v = ((xc @ factor[:k] + const_factor) ** 2).sum(1)  # [x, 1] C [x, 1]^T per row
        if link == "identity":
            mean[rows], sd_epi[rows] = m, np.sqrt(v)
            sd_pred[rows] = np.sqrt(v + noise_var)
        else:
            mean[rows], sd_epi[rows] = _logit_moments(m, v, kappa)
            sd_pred[rows] = np.sqrt(mean[rows] * (1.0 - mean[rows]))
    return PredictiveMoments(mean, sd_epi, sd_pred)


def moments_by_draws(
    X,
    coef_draws,
    intercept_draws=None,
    sigma_draws=None,
    link: str = "identity",
    chunk_rows: int = 2_000,
) -> PredictiveMoments:
    """Reference (brute force): the same moments from every (row, draw) pair, O(S x N x K).

    Computes ``E_theta[y | x, theta]`` per draw (identity: eta_s; logit: sigmoid(eta_s), or
    with ``sigma_draws`` E_u sigmoid(eta_s + u), u ~ Normal(0, sigma_s^2), by 20-node
    Gauss-Hermite) and takes its mean and sd over the draws (ddof=0). Rows in chunks of
    ``chunk_rows`` x S. For tests and benchmarks only; use :func:`predictive_moments`.
    """
    X, coef, intercept, sigma = _validate(X, coef_draws, intercept_draws, sigma_draws, link)
    a = intercept if intercept is not None else np.zeros(len(coef))
    noise_var = float(np.mean(sigma**2)) if sigma is not None else 0.0
    n = X.shape[0]
    mean, sd_epi, sd_pred = (np.empty(n) for _ in range(3))
    for start in range(0, n, chunk_rows):
        rows = slice(start, start + chunk_rows)
        eta = X[rows] @ coef.T + a  # chunk x S
        if link == "identity":
            score = eta
        elif sigma is None:
            score = _sigmoid(eta)
        else:
            score = sum(w * _sigmoid(eta + sigma * z) for z, w in zip(_GH_NODES, _GH_WEIGHTS))
        mean[rows] = score.mean(1)
        sd_epi[rows] = score.std(1)
        if link == "identity":
            sd_pred[rows] = np.sqrt(sd_epi[rows] ** 2 + noise_var)
        else:
            sd_pred[rows] = np.sqrt(mean[rows] * (1.0 - mean[rows]))
    return PredictiveMoments(mean, sd_epi, sd_pred)
