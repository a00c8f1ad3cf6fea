"""LLM cascades tuned through a Markov-copula model (Zellinger & Thomson, arXiv 2501.09345).

A cascade sends each request to the cheapest model first; model j answers when its confidence is
at least ``thresholds[j]``, otherwise the request goes on to model j + 1, and the last model always
answers. A request's cost is cumulative: the sum of the costs of every model it was sent to.

The model, fitted per cascade on one row per (item, model):

* **Marginals.** Each model's confidence is mapped to the real line (``logit`` for probabilities
  in [0, 1], ``logit(exp(c))`` for log-probabilities, identity otherwise). A value that occurs more
  than once (a tie, e.g. probability 1 at the top end, or a verbalised 0.9) or maps to ±∞ is a
  point mass with its empirical weight; the rest is a Gaussian mixture (one or two components, by
  BIC) on the transformed scale.
* **Correctness.** P(correct | confidence) is a logistic regression on the transformed confidence
  (MAP, weak Gaussian priors, so a model that is always right gets a probability near one, not an
  infinite coefficient); each point mass's own rate is shrunk towards the regression's value there.
  A model's correctness depends on its own confidence only.
* **Dependence.** Consecutive models are linked by a bivariate copula on the distributional
  transform U_j = F_j(confidence) (ties broken at random inside a point mass), Gaussian or
  Gumbel, whichever has the higher likelihood (point masses enter through rectangle or
  h-function probabilities); the chain is Markov: U_{j+1} depends on U_1..U_j only through U_j.
* **Expected error and cost** of a threshold vector come from quadrature: [0, 1] is cut into
  ``GRID`` cells per model; the copula gives the exact cell-to-cell transition probabilities and
  the mass is pushed down the cascade (the deferred share of a cell is linear in the threshold),
  so both are continuous in the thresholds.
* **Thresholds** minimise error + cost_weight * cost on the quadrature exactly: the loss is
  multilinear in the deferral shares between cell edges, so the optimum is a vertex of the grid
  of edges, and a backward recursion over the chain enumerates them all (``_Frontier``). They
  are mapped back to confidence values; where a threshold would split a point mass it is moved
  to whichever end of the mass is better, since tied requests cannot be split by a threshold.
  The default curve's cost weights reach the vertices of the fitted error-cost frontier.

Plain numpy / scipy / pandas: no Dagster, no warehouse, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import product

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import expit, ndtr, ndtri, owens_t

__all__ = [
    "CascadeEvaluation",
    "CascadeFit",
    "Copula",
    "Marginal",
    "assemble_cascade",
    "evaluate_cascade",
    "fit_cascade",
    "simulate_cascade",
]

REQUIRED_COLUMNS = ("item_id", "model", "confidence", "correct", "cost")
# cascade_plan's code version: bump it when the model or the threshold search changes.
MODEL_VERSION = "markov-copula-2"
GRID = 256  # quadrature cells per model on the deferral-probability scale
DEFAULT_POINTS = 25  # points of the default curve (vertices of the fitted frontier)
_EPS = 1e-12
_ATOM_SHRINK = 3.0  # prior weight (in requests) of the regression in a point mass's own rate
_PRIOR_SD = 2.5  # prior sd of the logistic intercept and (standardised) slope


# --- the confidence scale -----------------------------------------------------------------------

def _transform_kind(values: np.ndarray) -> str:
    if np.all((values >= 0) & (values <= 1)):
        return "probability"
    if np.all(values <= 0):
        return "logprob"
    return "real"


def _to_z(values: np.ndarray, kind: str) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if kind == "probability":
            z = np.log(values) - np.log1p(-values)
            return np.where(values >= 1, np.inf, np.where(values <= 0, -np.inf, z))
        if kind == "logprob":
            z = values - np.log(-np.expm1(values))
            return np.where(values >= 0, np.inf, np.where(values == -np.inf, -np.inf, z))
    return values.copy()


def _from_z(z: np.ndarray, kind: str) -> np.ndarray:
    z = np.asarray(z, dtype=float)
    if kind == "probability":
        return expit(z)
    if kind == "logprob":
        return -np.logaddexp(0.0, -z)
    return z.copy()


# --- marginals and correctness ------------------------------------------------------------------

def _mixture_cdf(z, weights, means, sds):
    z = np.asarray(z, dtype=float)[..., None]
    return np.sum(weights * ndtr((z - means) / sds), axis=-1)


def _mixture_logpdf(z, weights, means, sds):
    z = np.asarray(z, dtype=float)[..., None]
    comp = np.log(weights) - np.log(sds) - 0.5 * np.log(2 * np.pi) - 0.5 * ((z - means) / sds) ** 2
    return np.logaddexp.reduce(comp, axis=-1)


def _fit_mixture(z: np.ndarray, max_components: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian mixture on the transformed confidences (EM), 1 or 2 components by BIC."""
    n = len(z)
    floor = 1e-3 * max(np.ptp(z), 1.0)
    sd1 = max(float(np.std(z)), floor)
    best = (np.ones(1), np.array([float(np.mean(z))]), np.array([sd1]))
    best_bic = -2 * _mixture_logpdf(z, *best).sum() + 2 * np.log(n)
    if max_components < 2 or n < 20:
        return best
    lo, hi = z <= np.median(z), z > np.median(z)
    if hi.sum() < 2 or lo.sum() < 2:
        return best
    w = np.array([lo.mean(), hi.mean()])
    mu = np.array([z[lo].mean(), z[hi].mean()])
    sd = np.maximum([z[lo].std(), z[hi].std()], floor)
    for _ in range(300):
        comp = np.log(w) - np.log(sd) - 0.5 * ((z[:, None] - mu) / sd) ** 2
        resp = np.exp(comp - np.logaddexp.reduce(comp, axis=1, keepdims=True))
        nk = resp.sum(0) + 1e-12
        new_mu = (resp * z[:, None]).sum(0) / nk
        sd = np.maximum(np.sqrt((resp * (z[:, None] - new_mu) ** 2).sum(0) / nk), floor)
        w = np.maximum(nk / n, 1e-6)
        w = w / w.sum()
        if np.max(np.abs(new_mu - mu)) < 1e-9:
            mu = new_mu
            break
        mu = new_mu
    bic = -2 * _mixture_logpdf(z, w, mu, sd).sum() + 5 * np.log(n)
    return (w, mu, sd) if bic < best_bic else best


def _fit_logistic(s: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """MAP logistic regression of y on standardised s with N(0, _PRIOR_SD^2) priors."""

    def objective(beta):
        eta = beta[0] + beta[1] * s
        p = expit(eta)
        nll = np.sum(np.logaddexp(0.0, eta) - y * eta) + np.sum(beta**2) / (2 * _PRIOR_SD**2)
        grad = np.array([np.sum(p - y), np.sum((p - y) * s)]) + beta / _PRIOR_SD**2
        return nll, grad

    result = optimize.minimize(objective, np.zeros(2), jac=True, method="L-BFGS-B")
    return float(result.x[0]), float(result.x[1])


@dataclass(frozen=True, eq=False)
class Marginal:
    """One model's confidence distribution and P(correct | confidence).

    ``transform`` maps confidence to z (``probability``: logit; ``logprob``: logit(exp(c));
    ``real``: identity). ``atoms`` are the point masses (confidence values, sorted) with
    ``atom_mass`` and ``atom_correct`` (P(correct) there); ``weights``, ``means``, ``sds`` are the
    Gaussian mixture of the continuous part on z, of total mass ``1 - atom_mass.sum()``.
    P(correct | z) = expit(``intercept`` + ``slope`` * z) off the point masses, z finite.
    """

    transform: str
    atoms: np.ndarray
    atom_mass: np.ndarray
    atom_correct: np.ndarray
    weights: np.ndarray
    means: np.ndarray
    sds: np.ndarray
    intercept: float
    slope: float
    z_low: float  # z used for the regression in place of -inf
    z_high: float  # and of +inf

    @property
    def continuous_mass(self) -> float:
        return float(max(0.0, 1.0 - self.atom_mass.sum()))

    @property
    def mean(self) -> float:
        """Mean of the continuous part on the transformed scale."""
        return float(np.sum(self.weights * self.means)) if len(self.weights) else float("nan")

    @property
    def sd(self) -> float:
        """Standard deviation of the continuous part on the transformed scale."""
        if not len(self.weights):
            return float("nan")
        second = np.sum(self.weights * (self.sds**2 + self.means**2))
        return float(np.sqrt(max(second - self.mean**2, 0.0)))

    # the layout of [0, 1]: atom a occupies [atom_lo[a], atom_hi[a]]
    @property
    def _atom_z(self) -> np.ndarray:
        return _to_z(self.atoms, self.transform)

    def _g(self, z):
        if not len(self.weights):
            return np.zeros(np.shape(z))
        return _mixture_cdf(z, self.weights, self.means, self.sds)

    @property
    def atom_lo(self) -> np.ndarray:
        below = np.concatenate([[0.0], np.cumsum(self.atom_mass)[:-1]])
        return below + self.continuous_mass * self._g(self._atom_z)

    @property
    def atom_hi(self) -> np.ndarray:
        return self.atom_lo + self.atom_mass

    def deferral(self, confidence) -> np.ndarray:
        """P(confidence < t) for thresholds t: the share of requests this model defers."""
        c = np.atleast_1d(np.asarray(confidence, dtype=float))
        below = (self.atoms[None, :] < c[:, None]) @ self.atom_mass
        return np.clip(below + self.continuous_mass * self._g(_to_z(c, self.transform)), 0, 1)

    def intervals(self, confidence) -> tuple[np.ndarray, np.ndarray]:
        """[F(c-), F(c)] of observed confidences (a point off the point masses)."""
        c = np.asarray(confidence, dtype=float)
        lo = self.deferral(c)
        return lo, lo + (c[:, None] == self.atoms[None, :]) @ self.atom_mass

    def _ginv(self, q: np.ndarray) -> np.ndarray:
        lo = np.full_like(q, np.min(self.means - 12 * self.sds))
        hi = np.full_like(q, np.max(self.means + 12 * self.sds))
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            left = self._g(mid) < q
            lo, hi = np.where(left, mid, lo), np.where(left, hi, mid)
        return 0.5 * (lo + hi)

    def _locate(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For u in [0, 1]: the index of the point mass it falls in (-1 if none) and z off them."""
        u = np.asarray(u, dtype=float)
        lo, hi = self.atom_lo, self.atom_hi
        inside = (u[:, None] >= lo[None, :]) & (u[:, None] < hi[None, :])
        atom = np.where(inside.any(1), inside.argmax(1), -1) if len(lo) else \
            np.full(u.shape, -1)
        z = np.full(u.shape, np.nan)
        free = atom < 0
        if free.any() and self.continuous_mass > 0:
            below = (hi[None, :] <= u[free, None]) @ self.atom_mass
            q = np.clip((u[free] - below) / self.continuous_mass, _EPS, 1 - _EPS)
            z[free] = self._ginv(q)
        return atom, z

    def p_correct_z(self, z) -> np.ndarray:
        z = np.clip(np.asarray(z, dtype=float), self.z_low, self.z_high)
        return expit(self.intercept + self.slope * z)

    def p_correct_u(self, u) -> np.ndarray:
        """P(correct | U = u) on the deferral-probability scale."""
        atom, z = self._locate(np.asarray(u, dtype=float))
        out = np.empty(len(atom))
        free = atom < 0
        out[free] = self.p_correct_z(np.nan_to_num(z[free]))
        out[~free] = self.atom_correct[atom[~free]]
        return out

    def threshold(self, a: float) -> float:
        """The confidence threshold that defers a share ``a`` of requests (a realisable share:
        not strictly inside a point mass)."""
        if a <= 0:
            return -np.inf
        if a >= 1:
            return np.inf
        lo, hi = self.atom_lo, self.atom_hi
        near_lo = np.flatnonzero(np.abs(lo - a) < 1e-9)
        if len(near_lo):
            return float(self.atoms[near_lo[0]])
        near_hi = np.flatnonzero(np.abs(hi - a) < 1e-9)
        if len(near_hi):
            x = float(self.atoms[near_hi[-1]])
            return x + 1e-9 * max(1.0, abs(x))
        atom, z = self._locate(np.array([a]))
        if atom[0] >= 0:  # not realisable: the nearer end of the point mass
            k = atom[0]
            return self.threshold(lo[k] if a - lo[k] < hi[k] - a else hi[k])
        return float(_from_z(z, self.transform)[0])


def _fit_marginal(confidence: np.ndarray, correct: np.ndarray) -> Marginal:
    kind = _transform_kind(confidence)
    z = _to_z(confidence, kind)
    values, inverse, counts = np.unique(confidence, return_inverse=True, return_counts=True)
    is_atom = (counts >= 2) | ~np.isfinite(_to_z(values, kind))
    continuous = ~is_atom[inverse]
    if 0 < continuous.sum() < 3:  # too few to fit a density: point masses too
        is_atom[np.unique(inverse[continuous])] = True
        continuous = ~is_atom[inverse]
    n = len(confidence)
    if continuous.any():
        weights, means, sds = _fit_mixture(z[continuous], max_components=2)
    else:
        weights, means, sds = np.zeros(0), np.zeros(0), np.zeros(0)
    finite = np.isfinite(z)
    if finite.any():
        spread = max(float(np.std(z[finite])), 1e-3)
        z_low, z_high = float(z[finite].min() - spread), float(z[finite].max() + spread)
    else:
        z_low, z_high = -1.0, 1.0
    z_reg = np.clip(np.nan_to_num(z, posinf=z_high, neginf=z_low), z_low, z_high)
    center, scale = float(z_reg.mean()), float(z_reg.std())
    scale = scale if scale > 1e-9 else 1.0
    b0, b1 = _fit_logistic((z_reg - center) / scale, correct.astype(float))
    slope = b1 / scale
    intercept = b0 - slope * center
    atoms = values[is_atom]
    atom_index = np.flatnonzero(is_atom)
    atom_mass = counts[is_atom] / n
    prior = expit(intercept + slope * np.clip(
        np.nan_to_num(_to_z(atoms, kind), posinf=z_high, neginf=z_low), z_low, z_high))
    hits = np.array([correct[inverse == i].sum() for i in atom_index], dtype=float)
    atom_correct = (hits + _ATOM_SHRINK * prior) / (counts[is_atom] + _ATOM_SHRINK)
    return Marginal(kind, atoms, atom_mass, atom_correct, weights, means, sds, intercept, slope,
                    z_low, z_high)


# --- copulas ------------------------------------------------------------------------------------

def _clip(u):
    return np.clip(np.asarray(u, dtype=float), _EPS, 1 - _EPS)


def _bvn(x, y, rho):
    """Standard bivariate normal CDF through Owen's T (exact to rounding)."""
    x = np.where(x == 0, 1e-12, x)
    y = np.where(y == 0, 1e-12, y)
    s = np.sqrt(1 - rho * rho)
    value = 0.5 * (ndtr(x) + ndtr(y)) - owens_t(x, (y - rho * x) / (x * s)) \
        - owens_t(y, (x - rho * y) / (y * s))
    return value - np.where(x * y < 0, 0.5, 0.0)


@dataclass(frozen=True)
class Copula:
    """Bivariate copula of (U_j, U_{j+1}): ``family`` gaussian (``param`` = correlation rho),
    gumbel (``param`` = theta >= 1; upper-tail dependence) or independence."""

    family: str
    param: float

    @property
    def kendall_tau(self) -> float:
        if self.family == "gaussian":
            return float(2 / np.pi * np.arcsin(self.param))
        if self.family == "gumbel":
            return float(1 - 1 / self.param)
        return 0.0

    def cdf(self, u, v) -> np.ndarray:
        u, v = np.broadcast_arrays(np.asarray(u, dtype=float), np.asarray(v, dtype=float))
        uc, vc = _clip(u), _clip(v)
        if self.family == "gaussian":
            inner = _bvn(ndtri(uc), ndtri(vc), self.param)
        elif self.family == "gumbel":
            x, y = -np.log(uc), -np.log(vc)
            inner = np.exp(-(x**self.param + y**self.param) ** (1 / self.param))
        else:
            inner = uc * vc
        out = np.where(u <= 0, 0.0, np.where(u >= 1, v, inner))
        return np.clip(np.where(v <= 0, 0.0, np.where(v >= 1, np.clip(u, 0, 1), out)), 0, 1)

    def h(self, v, u) -> np.ndarray:
        """P(V <= v | U = u) (symmetric copulas: also P(U <= v | V = u))."""
        v, u = np.broadcast_arrays(np.asarray(v, dtype=float), np.asarray(u, dtype=float))
        uc, vc = _clip(u), _clip(v)
        if self.family == "gaussian":
            rho = self.param
            inner = ndtr((ndtri(vc) - rho * ndtri(uc)) / np.sqrt(1 - rho * rho))
        elif self.family == "gumbel":
            t = self.param
            x, y = -np.log(uc), -np.log(vc)
            s = x**t + y**t
            inner = np.exp(-s ** (1 / t)) * s ** (1 / t - 1) * x ** (t - 1) / uc
        else:
            inner = vc
        return np.clip(np.where(v <= 0, 0.0, np.where(v >= 1, 1.0, inner)), 0, 1)

    def h_inverse(self, w, u) -> np.ndarray:
        """The v with P(V <= v | U = u) = w (bisection; for simulation)."""
        lo, hi = np.zeros_like(np.asarray(w, dtype=float)), np.ones_like(np.asarray(w, float))
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            left = self.h(mid, u) < w
            lo, hi = np.where(left, mid, lo), np.where(left, hi, mid)
        return 0.5 * (lo + hi)

    def logpdf(self, u, v) -> np.ndarray:
        uc, vc = _clip(u), _clip(v)
        if self.family == "gaussian":
            rho = self.param
            x, y = ndtri(uc), ndtri(vc)
            return -0.5 * np.log1p(-rho * rho) - (rho * rho * (x * x + y * y) - 2 * rho * x * y) \
                / (2 * (1 - rho * rho))
        if self.family == "gumbel":
            t = self.param
            x, y = -np.log(uc), -np.log(vc)
            s = x**t + y**t
            a = s ** (1 / t)
            return -a - np.log(uc * vc) + (t - 1) * np.log(x * y) + (1 / t - 2) * np.log(s) \
                + np.log(a + t - 1)
        return np.zeros(np.broadcast(uc, vc).shape)

    def loglik(self, lo1, hi1, lo2, hi2) -> float:
        """Log-likelihood of pairs observed as [lo, hi] intervals on each margin (a point where
        lo == hi): density, h-function or rectangle probability as the case may be."""
        p1, p2 = hi1 - lo1 <= 1e-14, hi2 - lo2 <= 1e-14
        out = np.zeros(len(lo1))
        both = p1 & p2
        out[both] = self.logpdf(lo1[both], lo2[both])
        m = p1 & ~p2
        out[m] = np.log(np.maximum(self.h(hi2[m], lo1[m]) - self.h(lo2[m], lo1[m]), 1e-300))
        m = ~p1 & p2
        out[m] = np.log(np.maximum(self.h(hi1[m], lo2[m]) - self.h(lo1[m], lo2[m]), 1e-300))
        m = ~p1 & ~p2
        rect = self.cdf(hi1[m], hi2[m]) - self.cdf(lo1[m], hi2[m]) - self.cdf(hi1[m], lo2[m]) \
            + self.cdf(lo1[m], lo2[m])
        norm = (hi1[m] - lo1[m]) * (hi2[m] - lo2[m])
        out[m] = np.log(np.maximum(rect, 1e-300)) - np.log(norm)
        return float(out.sum())


def _fit_copula(lo1, hi1, lo2, hi2) -> Copula:
    """Gaussian or Gumbel, whichever fits better by maximum likelihood; independence when the
    data say nothing (a constant model) or neither beats it."""
    candidates = [Copula("independence", 0.0)]
    for family, bounds in (("gaussian", (-0.98, 0.98)), ("gumbel", (1.0, 20.0))):
        result = optimize.minimize_scalar(
            lambda p, f=family: -Copula(f, p).loglik(lo1, hi1, lo2, hi2),
            bounds=bounds, method="bounded", options={"xatol": 1e-5})
        candidates.append(Copula(family, float(result.x)))
    scores = [c.loglik(lo1, hi1, lo2, hi2) for c in candidates]
    best = int(np.argmax(scores))
    return candidates[best] if scores[best] > scores[0] + 1e-9 else candidates[0]


# --- the quadrature -----------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class _Quadrature:
    """Cells of [0, 1] per model: each cell's mean error, and the transition matrices."""

    edges: np.ndarray
    errors: tuple[np.ndarray, ...]
    transitions: tuple[np.ndarray, ...]
    costs: np.ndarray

    @classmethod
    def build(cls, marginals, copulas, costs, cells: int = GRID, sub: int = 8) -> _Quadrature:
        edges = np.linspace(0.0, 1.0, cells + 1)
        points = (edges[:-1, None] + (np.arange(sub) + 0.5)[None, :] / (sub * cells)).ravel()
        errors = tuple(1 - m.p_correct_u(points).reshape(cells, sub).mean(1) for m in marginals)
        transitions = []
        for copula in copulas:
            c = copula.cdf(edges[:, None], edges[None, :])
            rect = np.maximum(np.diff(np.diff(c, axis=0), axis=1), 0.0)
            transitions.append(rect / rect.sum(1, keepdims=True))
        return cls(edges, errors, tuple(transitions), np.asarray(costs, dtype=float))

    def evaluate(self, shares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Expected error and cost for deferral shares (batch, models - 1)."""
        shares = np.atleast_2d(shares)
        cells = len(self.edges) - 1
        lo, width = self.edges[:-1], np.diff(self.edges)
        mass = np.full((len(shares), cells), 1.0 / cells)
        error = np.zeros(len(shares))
        cost = np.zeros(len(shares))
        for j, transition in enumerate(self.transitions):
            cost += self.costs[j] * mass.sum(1)
            deferred = np.clip((shares[:, j, None] - lo) / width, 0.0, 1.0)
            error += (mass * (1 - deferred)) @ self.errors[j]
            mass = (mass * deferred) @ transition
        cost += self.costs[-1] * mass.sum(1)
        error += mass @ self.errors[-1]
        return error, cost


# --- the result ---------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class CascadeFit:
    """A fitted cascade model (``fit_cascade``).

    ``thresholds``: one confidence threshold per model but the last, for ``cost_weight`` (None
    when ``fit_cascade`` was called with ``cost_weight=None``), with the model's
    ``expected_error`` and ``expected_cost`` there. ``curve``: one row per point of the fitted
    error-cost curve, columns ``cost_weight``, ``thresholds`` (list), ``expected_error``,
    ``expected_cost`` (``deferral`` too: the share of requests each threshold defers), sorted by
    cost weight; a single row when a cost weight was given. ``marginals`` and ``copulas`` (between
    consecutive models) are the fitted parts; ``model_costs`` the mean cost per request of each
    model, cheapest first.
    """

    models: tuple[str, ...]
    cost_weight: float | None
    thresholds: tuple[float, ...] | None
    expected_error: float | None
    expected_cost: float | None
    curve: pd.DataFrame
    marginals: tuple[Marginal, ...]
    copulas: tuple[Copula, ...]
    model_costs: tuple[float, ...]
    _quadrature: _Quadrature = field(repr=False)
    _frontier: _Frontier = field(repr=False)

    def expected(self, thresholds: Sequence[float]) -> dict[str, float]:
        """The model's expected error rate and mean cost per request for confidence thresholds."""
        thresholds = _check_thresholds(thresholds, self.models)
        shares = np.array([[float(m.deferral(t)[0]) for m, t in zip(self.marginals, thresholds)]])
        error, cost = self._quadrature.evaluate(shares)
        return {"expected_error": float(error[0]), "expected_cost": float(cost[0])}

    def solve(self, cost_weight: float) -> dict:
        """Thresholds minimising expected error + cost_weight * expected cost."""
        return _solve(self._quadrature, self.marginals, float(cost_weight), self._frontier)


def _realisable(marginals, shares: np.ndarray) -> list[np.ndarray]:
    """Each share, or both ends of the point mass it falls strictly inside."""
    options = []
    for marginal, a in zip(marginals, shares):
        inside = (marginal.atom_lo < a - 1e-9) & (marginal.atom_hi > a + 1e-9)
        if inside.any():
            k = int(np.argmax(inside))
            options.append(np.array([marginal.atom_lo[k], marginal.atom_hi[k]]))
        else:
            options.append(np.array([a]))
    return options


def _options(cells: int, models: int) -> list[np.ndarray]:
    """The cell edges (indices) each threshold may take in the enumeration: every edge for the
    first model's (its table is a prefix sum) and, for three models, the second's; for longer
    cascades a coarser set, so that a stage's table stays near 4,096 entries per cell."""
    every = np.arange(cells + 1)
    later = max(2, int(4096 ** (1 / max(models - 2, 1))))
    step = max(1, int(np.ceil(cells / (later - 1))))
    coarse = np.unique(np.concatenate([every[::step], [cells]]))
    return [every] + [every if models <= 3 else coarse for _ in range(models - 2)]


@dataclass(frozen=True, eq=False)
class _Frontier:
    """Expected error and cost of every threshold vector on the enumeration's edges.

    Within one cell per model the deferred share is linear in its threshold, so the expected
    error and cost are multilinear in the deferral shares on every box of the grid of cell
    edges, and error + w * cost reaches its minimum at a vertex: enumerating the edges finds the
    quadrature's global optimum (for two and three models; longer cascades enumerate a coarser
    set of edges, then refine one threshold at a time over every edge). The Markov chain makes
    the enumeration a backward recursion: the error and cost still to come for an item entering
    model j in cell c, for each choice of the later thresholds, is one matrix product with the
    copula's transition matrix; model 1's mass is uniform, so its table is a prefix sum."""

    shares: tuple[np.ndarray, ...]  # per threshold: the candidate deferral shares
    error: np.ndarray  # (n_1, n_2, ...) expected error of each combination
    cost: np.ndarray

    @classmethod
    def build(cls, quadrature: _Quadrature) -> _Frontier:
        cells = len(quadrature.edges) - 1
        models = len(quadrature.errors)
        options = _options(cells, models)
        index = np.arange(cells)
        later_error = quadrature.errors[-1][:, None]  # (cells, combinations of later stages)
        later_cost = np.full((cells, 1), quadrature.costs[-1])
        for j in range(models - 2, 0, -1):
            go_error = quadrature.transitions[j] @ later_error
            go_cost = quadrature.transitions[j] @ later_cost
            defer = (index[:, None] < options[j][None, :])[:, :, None]  # (cells, n_j, 1)
            later_error = np.where(defer, go_error[:, None, :],
                                   quadrature.errors[j][:, None, None]).reshape(cells, -1)
            later_cost = (quadrature.costs[j] + defer * go_cost[:, None, :]).reshape(cells, -1)
        go_error = quadrature.transitions[0] @ later_error / cells
        go_cost = quadrature.transitions[0] @ later_cost / cells
        prefix = lambda a: np.concatenate([np.zeros((1, a.shape[1])), np.cumsum(a, 0)])  # noqa
        answered = np.concatenate([np.cumsum(quadrature.errors[0][::-1])[::-1], [0.0]]) / cells
        first = options[0]
        error = answered[first][:, None] + prefix(go_error)[first]
        cost = quadrature.costs[0] + prefix(go_cost)[first]
        shape = tuple(len(o) for o in options)
        edges = quadrature.edges
        return cls(tuple(edges[o] for o in options), error.reshape(shape), cost.reshape(shape))

    def best(self, quadrature: _Quadrature, cost_weight: float) -> np.ndarray:
        """The deferral shares minimising error + cost_weight * cost (ties: the cheaper)."""
        loss = self.error + cost_weight * self.cost + 1e-12 * self.cost
        at = np.unravel_index(int(np.argmin(loss)), loss.shape)
        shares = np.array([s[i] for s, i in zip(self.shares, at)])
        if all(len(s) == len(quadrature.edges) for s in self.shares):
            return shares
        return _refine(quadrature, shares, cost_weight)


def _refine(quadrature: _Quadrature, shares: np.ndarray, cost_weight: float) -> np.ndarray:
    """One threshold at a time over every cell edge, until none moves (long cascades)."""
    edges = quadrature.edges
    for _ in range(10):
        moved = False
        for j in range(len(shares)):
            trials = np.repeat(shares[None, :], len(edges), 0)
            trials[:, j] = edges
            error, cost = quadrature.evaluate(trials)
            choice = edges[int(np.argmin(error + cost_weight * cost + 1e-12 * cost))]
            moved |= choice != shares[j]
            shares[j] = choice
        if not moved:
            break
    return shares


def _solve(quadrature: _Quadrature, marginals, cost_weight: float,
           frontier: _Frontier | None = None) -> dict:
    frontier = frontier or _Frontier.build(quadrature)
    best = frontier.best(quadrature, cost_weight)
    loss = lambda s: (lambda e, c: e + cost_weight * c)(*quadrature.evaluate(s))  # noqa: E731
    combos = np.array(list(product(*_realisable(marginals, best))))
    shares = combos[np.argmin(loss(combos))]
    error, cost = quadrature.evaluate(shares[None, :])
    return {"cost_weight": cost_weight,
            "thresholds": [m.threshold(a) for m, a in zip(marginals, shares)],
            "expected_error": float(error[0]), "expected_cost": float(cost[0]),
            "deferral": [float(a) for a in shares]}


def _lower_hull(cost: np.ndarray, error: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The vertices of the lower convex hull of (cost, error) points where error still falls
    as cost rises: the points some cost weight makes optimal, cheapest first."""
    order = np.lexsort((error, cost))
    cost, error = cost[order], error[order]
    pareto = np.concatenate([[True], error[1:] < np.minimum.accumulate(error)[:-1] - 1e-15])
    cost, error = cost[pareto], error[pareto]
    hull: list[int] = []
    for i in range(len(cost)):  # Andrew's monotone chain, lower half
        while len(hull) >= 2 and (cost[hull[-1]] - cost[hull[-2]]) * (error[i] - error[hull[-2]]) \
                - (error[hull[-1]] - error[hull[-2]]) * (cost[i] - cost[hull[-2]]) <= 0:
            hull.pop()
        hull.append(i)
    return cost[hull], error[hull]


def _default_cost_weights(frontier: _Frontier, points: int = DEFAULT_POINTS) -> np.ndarray:
    """Cost weights that reach the vertices of the fitted error-cost frontier (the lower convex
    hull of every enumerated threshold vector's expected cost and error), at most ``points`` of
    them spread evenly over its cost range: 0 (the most accurate), one weight between the slopes
    on either side of each vertex (their geometric mean), and twice the last slope (the
    cheapest)."""
    cost, error = _lower_hull(frontier.cost.ravel(), frontier.error.ravel())
    if len(cost) < 2:
        return np.array([0.0])
    slopes = -np.diff(error) / np.diff(cost)  # error saved per unit of cost, falling
    weights = np.concatenate([[2 * slopes[0]], np.sqrt(slopes[:-1] * slopes[1:]), [0.0]])
    if len(weights) > points:
        targets = np.linspace(cost[0], cost[-1], points)
        weights = weights[np.unique([int(np.argmin(np.abs(cost - t))) for t in targets])]
    return np.sort(weights)


# --- validation ---------------------------------------------------------------------------------

def _check_models(models) -> tuple[str, ...]:
    if isinstance(models, str) or not isinstance(models, Sequence):
        raise TypeError("models: a sequence of model names, cheapest first")
    models = tuple(models)
    if len(models) < 2:
        raise ValueError(f"models: a cascade needs at least 2 models, got {len(models)}")
    if len(set(models)) != len(models):
        raise ValueError(f"models: each model once, got {list(models)}")
    return models


def _check_thresholds(thresholds, models) -> np.ndarray:
    values = np.asarray(list(thresholds), dtype=float)
    if values.shape != (len(models) - 1,):
        raise ValueError(f"thresholds: one per model but the last ({len(models) - 1}), got "
                         f"{values.size}")
    if np.isnan(values).any():
        raise ValueError("thresholds: NaN")
    return values


def _tables(frame: pd.DataFrame, models) -> dict[str, np.ndarray]:
    """Items x models arrays of confidence, correct and cost, after checking the frame."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError("frame: a pandas DataFrame with one row per (item_id, model)")
    models = _check_models(models)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"frame: missing column(s) {missing}; needs {list(REQUIRED_COLUMNS)}")
    rows = frame[frame["model"].isin(models)]
    for model in models:
        if not (rows["model"] == model).any():
            raise ValueError(f"frame: no rows for model {model!r}")
    duplicated = rows.duplicated(["item_id", "model"])
    if duplicated.any():
        first = rows.loc[duplicated, ["item_id", "model"]].iloc[0].tolist()
        raise ValueError(f"frame: more than one row per (item_id, model), e.g. {first}")
    for column in ("confidence", "correct", "cost"):
        values = pd.to_numeric(rows[column], errors="coerce")
        bad = values.isna() | ~np.isfinite(values.astype(float))
        if bad.any():
            model = rows.loc[bad, "model"].iloc[0]
            raise ValueError(f"frame: column {column!r} has {int(bad.sum())} missing or "
                             f"non-finite value(s) (model {model!r} among them)")
    correct = rows["correct"].astype(float)
    if not correct.isin([0.0, 1.0]).all():
        model = rows.loc[~correct.isin([0.0, 1.0]), "model"].iloc[0]
        raise ValueError(f"frame: column 'correct' must be 0 or 1 (model {model!r} has other "
                         "values)")
    if (rows["cost"].astype(float) < 0).any():
        raise ValueError("frame: column 'cost' must be >= 0")
    wide = rows.pivot(index="item_id", columns="model")
    for model in models:
        absent = wide[("confidence", model)].isna()
        if absent.any():
            examples = list(wide.index[absent][:3])
            raise ValueError(f"frame: {int(absent.sum())} item(s) have no row for model "
                             f"{model!r}, e.g. {examples}")
    return {column: wide[column][list(models)].to_numpy(dtype=float)
            for column in ("confidence", "correct", "cost")}


# --- the public functions -----------------------------------------------------------------------

def fit_cascade(frame: pd.DataFrame, models: Sequence[str], cost_weight: float | None = None,
                *, cost_weights: Sequence[float] | None = None) -> CascadeFit:
    """Fit the Markov-copula model of a cascade and tune its thresholds.

    ``frame``: one row per (item_id, model) with ``confidence`` (any real, higher = more
    confident; log-probabilities and ties allowed), ``correct`` (0/1) and ``cost`` (per request);
    rows of other models are ignored, and every item needs a row for every model. ``models``:
    the cascade order, cheapest first. With ``cost_weight`` the result's ``thresholds`` minimise
    expected error + cost_weight * expected cost (cost as the mean cost per request, cumulative
    over the models queried). With ``cost_weight=None`` the result's ``curve`` holds the optimum
    for each of ``cost_weights`` (by default 0 and 40 weights spread log-evenly around the
    exchange rate between 'the first model answers everything' and 'the last one does').
    """
    models = _check_models(models)
    tables = _tables(frame, models)
    marginals = tuple(_fit_marginal(tables["confidence"][:, j], tables["correct"][:, j])
                      for j in range(len(models)))
    copulas = []
    for j in range(len(models) - 1):
        lo1, hi1 = marginals[j].intervals(tables["confidence"][:, j])
        lo2, hi2 = marginals[j + 1].intervals(tables["confidence"][:, j + 1])
        copulas.append(_fit_copula(lo1, hi1, lo2, hi2))
    return assemble_cascade(models, marginals, copulas, tables["cost"].mean(0), cost_weight,
                            cost_weights=cost_weights)


def assemble_cascade(models: Sequence[str], marginals: Sequence[Marginal],
                     copulas: Sequence[Copula], model_costs: Sequence[float],
                     cost_weight: float | None = None, *,
                     cost_weights: Sequence[float] | None = None) -> CascadeFit:
    """A ``CascadeFit`` from given parts (what ``fit_cascade`` does after fitting them; tests
    build one from the true parameters)."""
    models = _check_models(models)
    if cost_weight is not None and (not np.isfinite(cost_weight) or cost_weight < 0):
        raise ValueError(f"cost_weight: a finite number >= 0, got {cost_weight}")
    marginals, copulas = tuple(marginals), tuple(copulas)
    model_costs = np.asarray(model_costs, dtype=float)
    quadrature = _Quadrature.build(marginals, copulas, model_costs)
    frontier = _Frontier.build(quadrature)
    if cost_weight is not None:
        weights = [float(cost_weight)]
    elif cost_weights is not None:
        weights = sorted(float(w) for w in cost_weights)
    else:
        weights = list(_default_cost_weights(frontier))
    curve = pd.DataFrame([_solve(quadrature, marginals, w, frontier) for w in weights],
                         columns=["cost_weight", "thresholds", "expected_error", "expected_cost",
                                  "deferral"])
    chosen = curve.iloc[0] if cost_weight is not None else None
    return CascadeFit(
        models=models,
        cost_weight=None if cost_weight is None else float(cost_weight),
        thresholds=None if chosen is None else tuple(chosen["thresholds"]),
        expected_error=None if chosen is None else float(chosen["expected_error"]),
        expected_cost=None if chosen is None else float(chosen["expected_cost"]),
        curve=curve, marginals=marginals, copulas=copulas,
        model_costs=tuple(float(c) for c in model_costs), _quadrature=quadrature,
        _frontier=frontier)


@dataclass(frozen=True)
class CascadeEvaluation:
    """What a cascade did on a frame: ``error_rate`` (share of items whose answering model was
    wrong), ``mean_cost`` (per item, summed over every model queried), ``n_items``, and
    ``answered_share`` (share of items each model answered, cheapest first)."""

    error_rate: float
    mean_cost: float
    n_items: int
    answered_share: tuple[float, ...]


def cascade_outcome(confidence: np.ndarray, correct: np.ndarray, cost: np.ndarray,
                    thresholds: np.ndarray) -> CascadeEvaluation:
    """The cascade run on items x models arrays (no checks; ``evaluate_cascade`` checks)."""
    n, k = confidence.shape
    answers = np.full(n, k - 1)
    for j in range(k - 2, -1, -1):
        answers = np.where(confidence[:, j] >= thresholds[j], j, answers)
    rows = np.arange(n)
    queried = np.arange(k)[None, :] <= answers[:, None]
    return CascadeEvaluation(
        error_rate=float(1 - correct[rows, answers].mean()),
        mean_cost=float((cost * queried).sum(1).mean()),
        n_items=int(n),
        answered_share=tuple(float(np.mean(answers == j)) for j in range(k)))


def evaluate_cascade(frame: pd.DataFrame, models: Sequence[str],
                     thresholds: Sequence[float]) -> CascadeEvaluation:
    """Run the cascade on ``frame`` (same columns as ``fit_cascade``): each item goes to the
    first model; model j answers when its confidence >= ``thresholds[j]``, else the item goes on;
    the last model always answers. Returns the realised error rate and mean cumulative cost."""
    models = _check_models(models)
    values = _check_thresholds(thresholds, models)
    tables = _tables(frame, models)
    return cascade_outcome(tables["confidence"], tables["correct"], tables["cost"], values)


# --- simulation (tests and benchmarks) ----------------------------------------------------------

def simulate_cascade(n_items: int, means: Sequence[float], sds: Sequence[float],
                     copulas: Sequence[Copula], intercepts: Sequence[float],
                     slopes: Sequence[float], costs: Sequence[float], *,
                     transform: str = "probability", seed: int = 0) -> pd.DataFrame:
    """Draw a frame from known truth: z_j ~ N(means[j], sds[j]) linked by the Markov chain of
    ``copulas``, confidence = the inverse transform of z, correct ~ Bernoulli(expit(intercepts[j]
    + slopes[j] * z_j)), cost constant per model. Models are named m0, m1, ..."""
    rng = np.random.default_rng(seed)
    k = len(means)
    u = np.empty((n_items, k))
    u[:, 0] = rng.uniform(size=n_items)
    for j, copula in enumerate(copulas):
        u[:, j + 1] = copula.h_inverse(rng.uniform(size=n_items), u[:, j])
    u = np.clip(u, 1e-15, 1 - 1e-15)
    z = np.asarray(means) + np.asarray(sds) * ndtri(u)
    correct = rng.uniform(size=z.shape) < expit(np.asarray(intercepts) + np.asarray(slopes) * z)
    return pd.DataFrame({
        "item_id": np.repeat(np.arange(n_items), k),
        "model": np.tile([f"m{j}" for j in range(k)], n_items),
        "confidence": _from_z(z, transform).ravel(),
        "correct": correct.astype(int).ravel(),
        "cost": np.tile(np.asarray(costs, dtype=float), n_items)})

