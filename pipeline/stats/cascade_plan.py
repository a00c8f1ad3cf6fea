"""A cascade plan from labelled answers: the items ``fit_cascade`` takes, its curve, and what the
curve's thresholds measure on items the fit did not see (what the ``cascade_plan`` asset and
``llm-migrate cascade`` report).

An item is a request with a correctness label for every model of the cascade; the model's
answer is correct when its mean label is at least ``correct_at``. Its confidence is, in this
order of preference:

* ``log-probability``: the answer's ``confidence`` (the mean token log-probability,
  ``responses.confidence``), where the provider returns log-probabilities;
* ``judge``: else the serving-time judge's correctness grade of the answer (``judge_confidence``,
  in [0, 1]: the LLM judge's correctness rubric, shown the question and the answer and no
  reference, since a request being served has none), where the cascade plan was given a judge;
  the judge's price per answer (``judge_cost_usd``) is added to the model's cost, since the
  cascade must call the judge on every answer of that model it serves, except for the last
  model, whose confidence never decides anything (it only lets the model see how the last
  model's correctness goes with the earlier model's confidence);
* ``none``: a model with neither can only be the cascade's last (it never defers, so its
  confidence only enters the copula with the model before it): it gets a constant confidence,
  which makes the model treat its correctness as independent of the earlier models' confidence.

Measured error and cost are held out: ``plan_cascade`` cross-validates (``folds`` folds of the
items, a seeded shuffle): each fold's items go through the thresholds of a cascade fitted on the
other folds at the same cost weights, and the error and cost are pooled over every item.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.stats.cascade import CascadeFit, cascade_outcome, fit_cascade

ITEM_COLUMNS = ("item_id", "model", "confidence", "correct", "cost")
MIN_ITEMS = 10
FOLDS = 5


class CascadeUnavailable(ValueError):
    """The data cannot support this cascade (the message says why)."""


@dataclass(frozen=True)
class CascadeItems:
    """``fit_cascade``'s frame (``items``), where each model's confidence came from
    (``sources``: model -> "log-probability", "judge" or "none"), and the judge's mean price
    per request added to a model's cost (``added_cost``: what the model costs in the cascade
    beyond what it costs alone)."""

    items: pd.DataFrame
    sources: dict[str, str]
    added_cost: dict[str, float]


def _per_answer(rows: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    rows = rows[rows["model"].isin(models)]
    for column in ("judge_confidence", "judge_cost_usd"):
        if column not in rows:
            rows = rows.assign(**{column: np.nan})
    out = rows.groupby(["request_id", "model"], as_index=False).agg(
        score=("score", "mean"), confidence=("confidence", "first"),
        cost=("cost_usd", "first"), judge_confidence=("judge_confidence", "first"),
        judge_cost=("judge_cost_usd", "first"))
    for column in ("confidence", "cost", "judge_confidence", "judge_cost"):
        out[column] = pd.to_numeric(out[column], errors="coerce")
    return out


def needs_judge(rows: pd.DataFrame, models: Sequence[str]) -> list[str]:
    """The models of the cascade with no log-probability on any labelled answer (``rows`` as
    ``cascade_items`` takes them): those whose confidence can only come from a judge."""
    models = list(models)
    mine = rows[rows["model"].isin(models)]
    has = pd.to_numeric(mine["confidence"], errors="coerce").notna().groupby(mine["model"]).any()
    return [m for m in models if not has.get(m, False)]


def cascade_items(rows: pd.DataFrame, models: Sequence[str], correct_at: float) -> CascadeItems:
    """``fit_cascade``'s frame from labelled answers: ``rows`` has request_id, model, score
    (one correctness label each), confidence and cost_usd, optionally judge_confidence and
    judge_cost_usd (the serving-time judge, for models without log-probabilities). Items missing
    a label or a confidence for any model of the cascade are left out; a missing cost is the
    model's mean cost."""
    models = list(models)
    per_answer = _per_answer(rows, models)
    sources, added = {}, {}
    for position, model in enumerate(models):
        mine = per_answer["model"] == model
        if not mine.any():
            raise CascadeUnavailable(f"{model}: no labelled answers")
        cost = per_answer.loc[mine, "cost"]
        if cost.isna().all():
            raise CascadeUnavailable(f"{model}: no cost recorded for its answers")
        per_answer.loc[mine, "cost"] = cost.fillna(cost.mean())
        if per_answer.loc[mine, "confidence"].notna().any():
            sources[model] = "log-probability"
        elif per_answer.loc[mine, "judge_confidence"].notna().any():
            sources[model] = "judge"
            per_answer.loc[mine, "confidence"] = per_answer.loc[mine, "judge_confidence"]
            if position < len(models) - 1:  # served through the judge: it pays for it
                judged = per_answer.loc[mine, "judge_cost"]
                judged = judged.fillna(judged.mean()).fillna(0.0)
                per_answer.loc[mine, "cost"] += judged
                added[model] = float(judged.mean())
        elif position == len(models) - 1:
            sources[model] = "none"
            per_answer.loc[mine, "confidence"] = 0.0
        else:
            raise CascadeUnavailable(
                f"{model}: no confidence (its provider returns no log-probabilities and no "
                "judge was given), so it can only be a cascade's last model")
    per_answer = per_answer.dropna(subset=["confidence"])
    complete = per_answer.groupby("request_id")["model"].nunique() == len(models)
    items = per_answer[per_answer["request_id"].isin(complete[complete].index)]
    if items["request_id"].nunique() < MIN_ITEMS:
        raise CascadeUnavailable(f"{items['request_id'].nunique()} item(s) with a label and a "
                                 f"confidence for every model: at least {MIN_ITEMS} are needed")
    return CascadeItems(pd.DataFrame({
        "item_id": items["request_id"].to_numpy(), "model": items["model"].to_numpy(),
        "confidence": items["confidence"].to_numpy(dtype=float),
        "correct": (items["score"].to_numpy(dtype=float) >= correct_at).astype(int),
        "cost": items["cost"].to_numpy(dtype=float)}), sources, added)


def singles(items: pd.DataFrame, models: Sequence[str],
            added_cost: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Each model of the cascade alone on ``items``: model, error, cost (less what
    ``added_cost`` says the cascade adds to it: alone, a model needs no judge)."""
    added = added_cost or {}
    alone = items.groupby("model", sort=False).agg(
        error=("correct", lambda c: 1 - c.mean()), cost=("cost", "mean")).loc[list(models)]
    alone["cost"] -= [added.get(m, 0.0) for m in alone.index]
    return alone.rename_axis("model").reset_index()


def best_single(items: pd.DataFrame, models: Sequence[str],
                added_cost: Mapping[str, float] | None = None) -> dict:
    """The cascade's model with the lowest error rate alone (ties: the cheaper), on ``items``."""
    alone = singles(items, models, added_cost)
    best = alone.sort_values(["error", "cost"], kind="stable").iloc[0]
    return {"model": best["model"], "error": float(best["error"]), "cost": float(best["cost"])}


def _wide(items: pd.DataFrame, models: list[str]) -> tuple[np.ndarray, ...]:
    wide = items.pivot(index="item_id", columns="model")
    return wide.index.to_numpy(), *(wide[c][models].to_numpy(float)
                                    for c in ("confidence", "correct", "cost"))


def held_out(items: pd.DataFrame, models: Sequence[str], cost_weights: Sequence[float],
             folds: int = FOLDS, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """Cross-validated error rate and mean cost of the cascade at each of ``cost_weights``:
    the items are shuffled (``seed``) into ``folds`` folds; each fold is run through the
    thresholds fitted on the other folds; errors and costs are pooled over all items. Returns
    (errors, costs, a sentence saying how they were measured)."""
    models = list(models)
    ids, confidence, correct, cost = _wide(items, models)
    folds = int(min(folds, len(ids)))
    if folds < 2:
        raise ValueError(f"held_out: folds must be at least 2, got {folds}")
    fold_of = np.empty(len(ids), dtype=int)
    fold_of[np.random.default_rng(seed).permutation(len(ids))] = np.arange(len(ids)) % folds
    errors, costs = np.zeros(len(cost_weights)), np.zeros(len(cost_weights))
    for fold in range(folds):
        test = fold_of == fold
        train = items[items["item_id"].isin(ids[~test])]
        fit = fit_cascade(train, models, cost_weights=list(cost_weights))
        for point, thresholds in enumerate(_by_given_order(fit, cost_weights)):
            outcome = cascade_outcome(confidence[test], correct[test], cost[test],
                                      np.asarray(thresholds, dtype=float))
            errors[point] += outcome.error_rate * outcome.n_items
            costs[point] += outcome.mean_cost * outcome.n_items
    how = (f"{folds}-fold cross-validation (seed {seed}): each item through thresholds "
           f"fitted on the other {folds - 1} folds")
    return errors / len(ids), costs / len(ids), how


def _by_given_order(fit: CascadeFit, cost_weights: Sequence[float]) -> list:
    """The fit's thresholds for each of ``cost_weights`` in the order given (the curve is
    sorted by cost weight)."""
    by_weight = dict(zip(fit.curve["cost_weight"].astype(float), fit.curve["thresholds"]))
    return [by_weight[float(w)] for w in cost_weights]


def plan_cascade(items: pd.DataFrame, models: Sequence[str], cost_weight: float | None = None,
                 folds: int = FOLDS, seed: int = 0,
                 added_cost: Mapping[str, float] | None = None,
                 ) -> tuple[CascadeFit, pd.DataFrame, dict, str]:
    """Fit the cascade on ``items`` (``fit_cascade``'s frame). Returns the fit; its curve (one
    row per cost weight, or the one ``cost_weight``) with ``measured_error`` and
    ``measured_cost`` held out (``held_out``: cross-validation with ``folds`` and ``seed``) and
    ``in_sample_error`` and ``in_sample_cost`` (the full fit's thresholds on the items it was
    fitted on); the best single model on the items (its cost less ``added_cost``, as in
    ``singles``); and how the measured figures were measured."""
    models = list(models)
    fit = fit_cascade(items, models, cost_weight)
    curve = fit.curve.copy()
    _, confidence, correct, cost = _wide(items, models)
    in_sample = [cascade_outcome(confidence, correct, cost, np.asarray(t, dtype=float))
                 for t in curve["thresholds"]]
    errors, costs, how = held_out(items, models, list(curve["cost_weight"].astype(float)),
                                  folds, seed)
    curve["measured_error"], curve["measured_cost"] = errors, costs
    curve["in_sample_error"] = [m.error_rate for m in in_sample]
    curve["in_sample_cost"] = [m.mean_cost for m in in_sample]
    curve["thresholds"] = [[float(t) for t in ts] for ts in curve["thresholds"]]
    curve["deferral"] = [[float(d) for d in np.atleast_1d(ds)] for ds in curve["deferral"]]
    return fit, curve.reset_index(drop=True), best_single(items, models, added_cost), how
