"""A cascade plan from labelled answers: the items ``fit_cascade`` takes, and its curve checked
on them (what the ``cascade_plan`` asset and ``llm-migrate cascade`` report).

An item is a request with a correctness label for every model of the cascade; the model's
answer is correct when its mean label is at least ``correct_at``. Its confidence is the
answer's ``confidence`` (the mean token log-probability, ``responses.confidence``). A model
without any confidence can only be the cascade's last (it never defers, so its confidence only
enters the copula with the model before it): it gets a constant confidence, which makes the
model treat its correctness as independent of the earlier models' confidence, so the measured
error on the items stands beside the expected one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipeline.stats.cascade import CascadeFit, evaluate_cascade, fit_cascade

ITEM_COLUMNS = ("item_id", "model", "confidence", "correct", "cost")


class CascadeUnavailable(ValueError):
    """The data cannot support this cascade (the message says why)."""


def cascade_items(rows: pd.DataFrame, models: Sequence[str], correct_at: float) -> pd.DataFrame:
    """``fit_cascade``'s frame from labelled answers: ``rows`` has request_id, model, score
    (one correctness label each), confidence and cost_usd. Items missing a label or (for a
    model that has confidences) a confidence for any model of the cascade are left out; a
    missing cost is the model's mean cost."""
    models = list(models)
    rows = rows[rows["model"].isin(models)]
    per_answer = rows.groupby(["request_id", "model"], as_index=False).agg(
        score=("score", "mean"), confidence=("confidence", "first"),
        cost=("cost_usd", "first"))
    per_answer["confidence"] = pd.to_numeric(per_answer["confidence"], errors="coerce")
    per_answer["cost"] = pd.to_numeric(per_answer["cost"], errors="coerce")
    for position, model in enumerate(models):
        mine = per_answer["model"] == model
        if not mine.any():
            raise CascadeUnavailable(f"{model}: no labelled answers")
        if per_answer.loc[mine, "confidence"].isna().all():
            if position < len(models) - 1:
                raise CascadeUnavailable(
                    f"{model}: no confidence (its provider returns no log-probabilities), so "
                    "it can only be a cascade's last model")
            per_answer.loc[mine, "confidence"] = 0.0
        cost = per_answer.loc[mine, "cost"]
        if cost.isna().all():
            raise CascadeUnavailable(f"{model}: no cost recorded for its answers")
        per_answer.loc[mine, "cost"] = cost.fillna(cost.mean())
    per_answer = per_answer.dropna(subset=["confidence"])
    complete = per_answer.groupby("request_id")["model"].nunique() == len(models)
    items = per_answer[per_answer["request_id"].isin(complete[complete].index)]
    if items["request_id"].nunique() < 10:
        raise CascadeUnavailable(f"{items['request_id'].nunique()} item(s) with a label and a "
                                 "confidence for every model: at least 10 are needed")
    return pd.DataFrame({
        "item_id": items["request_id"].to_numpy(), "model": items["model"].to_numpy(),
        "confidence": items["confidence"].to_numpy(dtype=float),
        "correct": (items["score"].to_numpy(dtype=float) >= correct_at).astype(int),
        "cost": items["cost"].to_numpy(dtype=float)})


def best_single(items: pd.DataFrame, models: Sequence[str]) -> dict:
    """The cascade's model with the lowest error rate alone (ties: the cheaper), on ``items``."""
    alone = items.groupby("model").agg(error=("correct", lambda c: 1 - c.mean()),
                                       cost=("cost", "mean")).loc[list(models)]
    best = alone.sort_values(["error", "cost"], kind="stable").index[0]
    return {"model": best, "error": float(alone.loc[best, "error"]),
            "cost": float(alone.loc[best, "cost"])}


def plan_cascade(items: pd.DataFrame, models: Sequence[str], cost_weight: float | None = None,
                 ) -> tuple[CascadeFit, pd.DataFrame, dict]:
    """Fit the cascade on ``items`` (``fit_cascade``'s frame). Returns the fit, its curve (one
    row per cost weight, or the one ``cost_weight``) with ``measured_error`` and
    ``measured_cost`` of each point's thresholds on the same items (in sample), and the best
    single model there."""
    fit = fit_cascade(items, list(models), cost_weight)
    curve = fit.curve.copy()
    measured = [evaluate_cascade(items, list(models), list(t)) for t in curve["thresholds"]]
    curve["measured_error"] = [m.error_rate for m in measured]
    curve["measured_cost"] = [m.mean_cost for m in measured]
    curve["thresholds"] = [[float(t) for t in ts] for ts in curve["thresholds"]]
    curve["deferral"] = [[float(d) for d in np.atleast_1d(ds)] for ds in curve["deferral"]]
    return fit, curve.reset_index(drop=True), best_single(items, models)
