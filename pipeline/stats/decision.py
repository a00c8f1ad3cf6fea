"""From posterior draws of Δ to a decision: migrate, hold, or label more.

Non-inferiority with a margin (margin 0 is superiority): migrate when P(Δ > −margin) ≥ prob,
hold when P(Δ < −margin) ≥ prob, otherwise ask for more labels, with a projection of how many.
Draws from a fit that failed its diagnostics decide nothing: ``fit_failed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

MIGRATE, HOLD, NEED_MORE_LABELS = "migrate", "hold", "need_more_labels"
FIT_FAILED = "fit_failed"  # the sampler's diagnostics failed: no verdict from those draws
# Part of migration_decision's code version: bump it when the rule or the label plan changes.
RULE_VERSION = "decide-2"


SETTLE_PROB = 0.8  # the label plan's promise: the verdict resolves with this probability
# Below this even with every unlabelled request labelled, the plan says labelling cannot
# settle the decision; between it and SETTLE_PROB it asks for them all, with their chance.
UNSETTLEABLE_BELOW = 0.5
PLAN_LABEL, PLAN_CANNOT_SETTLE = "label", "cannot_settle"
_PREPOSTERIOR_DRAWS = 4000
# The plan's true Δ comes from the posterior under a prior centred on the margin whose
# precision is this multiple of the posterior's own (1: as informative as the labels so far).
SCEPTICAL_WEIGHT = 1.0


@dataclass(frozen=True)
class Decision:
    delta_mean: float
    ci_low: float
    ci_high: float
    p_better: float  # P(Δ > −margin)
    decision: str
    # need_more_labels only: more labelled requests (both models' responses labelled) after
    # which the decision resolves with probability settle_prob, or None with plan
    # "cannot_settle" (even every unlabelled request would likely leave Δ on the margin)
    labels_needed: int | None
    settle_prob: float | None = None
    plan: str | None = None  # "label" | "cannot_settle" for need_more_labels, else None


@dataclass(frozen=True)
class LabelPlan:
    labels_needed: int | None  # None: cannot be settled by labelling
    settle_prob: float | None  # P(the decision resolves) after labels_needed more (or all)
    plan: str | None  # "label" | "cannot_settle"; None when there is nothing to plan


def label_plan(draws: np.ndarray, margin: float, prob: float, n_labels: int,
               n_unlabelled: int, target: float = SETTLE_PROB, seed: int = 0) -> LabelPlan:
    """The fewest more labelled requests, at most ``n_unlabelled``, after which the decision
    resolves (migrate or hold at ``prob``) with probability ``target``: a preposterior
    simulation, not a plug-in of the posterior mean.

    Each simulated future draws a true Δ, then the mean of n more labels around it with the
    per-request variance the posterior implies (sd² · n_labels, a mean of independent
    requests), and updates the posterior as the model will (the precision-weighted normal
    update). The true Δ is drawn from the posterior shrunk towards the margin: the posterior
    under a sceptical prior centred on −margin and as informative as the labels so far
    (SCEPTICAL_WEIGHT), i.e. a normal halfway between the posterior mean and −margin, with half
    the posterior's variance. Why: a decision that still needs labels has its Δ near the
    margin, and the flat posterior spreads the truth wider than comparisons near the margin
    are spread, so it promised resolutions that did not come (``benchmarks/bench_label_plan.py``,
    400 comparisons per design of true effects: the flat draw promised 0.79 and 0.73 and 0.67
    resolved; the sceptical draw promised 0.73 and 0.74, and 0.76 and 0.74 resolved). Where
    true effects are spread wider than the posterior, it errs towards promising less, i.e.
    asking for more labels (the design of ``tests/stats/test_decision.py``: 0.80 promised,
    0.83–0.87 resolved over three seeds).

    When every unlabelled request would resolve the decision less often than ``target``, the
    plan asks for them all and says how likely they settle it. When even the plain posterior
    (the truth drawn from it, not from the sceptical one) says all of them settle it less often
    than not (``UNSETTLEABLE_BELOW``), Δ sits on the margin: ``cannot_settle``. With no labelled
    request yet there is no variance to project from, and the plan asks for a first batch of
    up to 20.
    """
    if n_unlabelled < 1:
        return LabelPlan(None, 0.0, PLAN_CANNOT_SETTLE)
    if n_labels < 1:
        return LabelPlan(min(n_unlabelled, 20), None, PLAN_LABEL)
    rng = np.random.default_rng(seed)
    mean, var = float(np.mean(draws)), float(np.var(draws))
    spread, noise = rng.standard_normal((2, _PREPOSTERIOR_DRAWS))  # common random numbers
    # the sceptical posterior: precisions add, the prior's is SCEPTICAL_WEIGHT x the data's
    shrunk_mean = (mean - SCEPTICAL_WEIGHT * margin) / (1.0 + SCEPTICAL_WEIGHT)
    sceptical = shrunk_mean + np.sqrt(var / (1.0 + SCEPTICAL_WEIGHT)) * spread
    z = stats.norm.ppf(prob)

    def settles(more: int, truth: np.ndarray = sceptical) -> float:
        future_mean = truth + noise * np.sqrt(var * n_labels / more)
        updated = (n_labels * mean + more * future_mean) / (n_labels + more)
        sd = np.sqrt(var * n_labels / (n_labels + more))
        return float(np.mean(np.abs(updated + margin) >= z * sd))

    # "Labelling will not settle it" is claimed only when the posterior itself says so: the
    # sceptical draw is for keeping the promise, not for giving up on a slice.
    at_most = settles(n_unlabelled)
    if settles(n_unlabelled, truth=mean + np.sqrt(var) * spread) < UNSETTLEABLE_BELOW:
        return LabelPlan(None, at_most, PLAN_CANNOT_SETTLE)
    if at_most < target:
        return LabelPlan(n_unlabelled, at_most, PLAN_LABEL)
    low, high = 0, n_unlabelled  # settles(high) >= target; common random numbers keep it smooth
    while high - low > 1:
        middle = (low + high) // 2
        if settles(middle) >= target:
            high = middle
        else:
            low = middle
    return LabelPlan(high, settles(high), PLAN_LABEL)


def decide(draws: np.ndarray, margin: float = 0.0, prob: float = 0.95, n_labels: int = 0,
           fit_ok: bool = True, n_unlabelled: int | None = None) -> Decision:
    """Decision for one comparison from the posterior draws of Δ (candidate − incumbent);
    ``fit_ok=False`` (the fit behind the draws failed its diagnostics) gives ``fit_failed``,
    with Δ's summary still reported. ``n_labels`` and ``n_unlabelled`` count requests
    (labelled for both models, and not) behind the draws, for the label plan
    (``label_plan``; ``n_unlabelled`` None: no cap)."""
    draws = np.asarray(draws, dtype=float)
    if draws.size == 0 or not np.all(np.isfinite(draws)):
        raise ValueError("decide: draws must be a non-empty array of finite numbers")
    tail = (1.0 - prob) / 2
    p_better = float(np.mean(draws > -margin))
    if not fit_ok:
        decision = FIT_FAILED
    elif p_better >= prob:
        decision = MIGRATE
    elif 1.0 - p_better >= prob:
        decision = HOLD
    else:
        decision = NEED_MORE_LABELS
    no_cap = 1_000_000
    plan = (label_plan(draws, margin, prob, n_labels,
                       no_cap if n_unlabelled is None else n_unlabelled)
            if decision == NEED_MORE_LABELS else LabelPlan(None, None, None))
    return Decision(
        delta_mean=float(draws.mean()),
        ci_low=float(np.quantile(draws, tail)),
        ci_high=float(np.quantile(draws, 1.0 - tail)),
        p_better=p_better,
        decision=decision,
        labels_needed=plan.labels_needed,
        settle_prob=plan.settle_prob,
        plan=plan.plan,
    )
