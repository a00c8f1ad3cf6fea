"""From posterior draws of Δ to a decision: migrate, hold, or label more.

Non-inferiority with a margin (margin 0 is superiority): migrate when P(Δ > −margin) ≥ prob,
hold when P(Δ < −margin) ≥ prob, otherwise ask for more labels, with a projection of how many.
Draws from a fit that failed its diagnostics decide nothing: ``fit_failed``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

MIGRATE, HOLD, NEED_MORE_LABELS = "migrate", "hold", "need_more_labels"
FIT_FAILED = "fit_failed"  # the sampler's diagnostics failed: no verdict from those draws
MAX_PROJECTION = 1_000_000  # "more than anyone will label": Δ sits on the margin


@dataclass(frozen=True)
class Decision:
    delta_mean: float
    ci_low: float
    ci_high: float
    p_better: float  # P(Δ > −margin)
    decision: str
    labels_needed: int | None


def labels_needed(delta_mean: float, delta_sd: float, margin: float, prob: float,
                  n_labels: int) -> int:
    """Extra labels after which the interval would clear −margin, if Δ's posterior mean stayed
    where it is and its sd shrank as 1/sqrt(labels) (the rate of a mean of independent labels).
    """
    distance = abs(delta_mean + margin)
    z = stats.norm.ppf(prob)
    if distance < 1e-12:
        return MAX_PROJECTION
    needed_total = max(n_labels, 1) * (z * delta_sd / distance) ** 2
    return int(min(MAX_PROJECTION, max(1, math.ceil(needed_total - n_labels))))


def decide(draws: np.ndarray, margin: float = 0.0, prob: float = 0.95, n_labels: int = 0,
           fit_ok: bool = True) -> Decision:
    """Decision for one comparison from the posterior draws of Δ (candidate − incumbent);
    ``fit_ok=False`` (the fit behind the draws failed its diagnostics) gives ``fit_failed``,
    with Δ's summary still reported."""
    draws = np.asarray(draws, dtype=float)
    if draws.size == 0 or not np.all(np.isfinite(draws)):
        raise ValueError("decide: draws must be a non-empty array of finite numbers")
    tail = (1.0 - prob) / 2
    p_better = float(np.mean(draws > -margin))
    if not fit_ok:
        decision, needed = FIT_FAILED, None
    elif p_better >= prob:
        decision, needed = MIGRATE, None
    elif 1.0 - p_better >= prob:
        decision, needed = HOLD, None
    else:
        decision = NEED_MORE_LABELS
        needed = labels_needed(float(draws.mean()), float(draws.std()), margin, prob, n_labels)
    return Decision(
        delta_mean=float(draws.mean()),
        ci_low=float(np.quantile(draws, tail)),
        ci_high=float(np.quantile(draws, 1.0 - tail)),
        p_better=p_better,
        decision=decision,
        labels_needed=needed,
    )
