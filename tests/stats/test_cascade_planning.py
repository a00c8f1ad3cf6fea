"""The cascade plan: held-out measurement (no item is measured by a fit that saw it) and where
each model's confidence comes from (log-probabilities, the serving-time judge, none)."""

import numpy as np
import pandas as pd
import pytest

from pipeline.stats import cascade_plan
from pipeline.stats.cascade import Copula, evaluate_cascade, simulate_cascade
from pipeline.stats.cascade_plan import CascadeUnavailable, cascade_items, held_out, plan_cascade


@pytest.fixture
def items():
    return simulate_cascade(120, [0.0, 0.8], [1.0, 1.0], [Copula("gaussian", 0.5)],
                            [0.0, 0.8], [1.5, 1.5], [1.0, 4.0], seed=21)


def test_every_item_is_measured_once_by_a_fit_that_did_not_see_it(items, monkeypatch):
    fits = []
    real_fit = cascade_plan.fit_cascade

    def recording_fit(frame, models, cost_weight=None, **kwargs):
        fit = real_fit(frame, models, cost_weight, **kwargs)
        fits.append((set(frame["item_id"]), fit))
        return fit

    monkeypatch.setattr(cascade_plan, "fit_cascade", recording_fit)
    weights = [0.0, 0.05, 0.2]
    errors, costs, how = held_out(items, ["m0", "m1"], weights, folds=4, seed=1)
    assert how.startswith("4-fold cross-validation (seed 1)")
    everything = set(items["item_id"])
    held = [everything - seen for seen, _ in fits]
    assert len(fits) == 4 and all(22 <= len(h) <= 38 for h in held)
    assert set().union(*held) == everything and sum(map(len, held)) == len(everything)
    for point, weight in enumerate(weights):  # pooled over the folds, item by item
        error = cost = 0.0
        for fold, (_, fit) in zip(held, fits):
            row = fit.curve[fit.curve["cost_weight"] == weight].iloc[0]
            outcome = evaluate_cascade(items[items["item_id"].isin(fold)], ["m0", "m1"],
                                       row["thresholds"])
            error += outcome.error_rate * outcome.n_items
            cost += outcome.mean_cost * outcome.n_items
        assert errors[point] == pytest.approx(error / len(everything))
        assert costs[point] == pytest.approx(cost / len(everything))


def test_the_folds_follow_the_seed(items):
    first = held_out(items, ["m0", "m1"], [0.02], folds=3, seed=5)[0]
    again = held_out(items, ["m0", "m1"], [0.02], folds=3, seed=5)[0]
    other = [held_out(items, ["m0", "m1"], [0.02], folds=3, seed=s)[0][0] for s in range(6, 10)]
    assert first == again and len(set(other) | {first[0]}) > 1


def test_the_plan_reports_held_out_beside_in_sample(items):
    _, curve, best, how = plan_cascade(items, ["m0", "m1"], cost_weight=0.03, folds=5)
    assert len(curve) == 1 and how.startswith("5-fold")
    assert {"measured_error", "measured_cost", "in_sample_error", "in_sample_cost"} <= \
        set(curve.columns)
    in_sample = evaluate_cascade(items, ["m0", "m1"], curve["thresholds"].iloc[0])
    assert curve["in_sample_error"].iloc[0] == pytest.approx(in_sample.error_rate)
    assert set(best) == {"model", "error", "cost"}


# --- where a model's confidence comes from -------------------------------------------------------

def _rows(n=12):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        for model, confidence in (("claude", None), ("gpt", -rng.uniform(0, 2))):
            rows.append({"request_id": f"r{i}", "model": model, "score": rng.integers(1, 6),
                         "confidence": confidence, "cost_usd": 0.001 if model == "claude"
                         else 0.004})
    return pd.DataFrame(rows)


def test_a_model_without_log_probabilities_and_no_judge_can_only_be_last():
    rows = _rows()
    assert cascade_plan.needs_judge(rows, ["claude", "gpt"]) == ["claude"]
    assert cascade_plan.needs_judge(rows, ["gpt", "claude"]) == ["claude"]
    found = cascade_items(rows, ["gpt", "claude"], correct_at=4)
    assert found.sources == {"gpt": "log-probability", "claude": "none"}
    assert (found.items.loc[found.items["model"] == "claude", "confidence"] == 0).all()
    with pytest.raises(CascadeUnavailable, match="claude: no confidence .* only be a cascade's "
                                                 "last model"):
        cascade_items(rows, ["claude", "gpt"], correct_at=4)


def test_the_judges_grade_is_the_confidence_and_its_price_is_added_to_the_cost():
    rows = _rows()
    judged = rows["model"] == "claude"
    rows.loc[judged, "judge_confidence"] = np.linspace(0, 1, judged.sum())
    rows.loc[judged, "judge_cost_usd"] = 0.0005
    found = cascade_items(rows, ["claude", "gpt"], correct_at=4)
    assert found.sources == {"claude": "judge", "gpt": "log-probability"}
    claude = found.items[found.items["model"] == "claude"].set_index("item_id")
    np.testing.assert_allclose(claude["confidence"].sort_values(), np.linspace(0, 1, 12))
    np.testing.assert_allclose(claude["cost"], 0.0015)
    assert found.added_cost == {"claude": pytest.approx(0.0005)}
    # alone, a model needs no judge: its single-model cost is its own
    alone = cascade_plan.singles(found.items, ["claude", "gpt"], found.added_cost)
    np.testing.assert_allclose(alone.set_index("model")["cost"], [0.001, 0.004])

    # last, its grade only describes it: the judge is never called for it when serving
    last = cascade_items(rows, ["gpt", "claude"], correct_at=4)
    assert last.sources == {"gpt": "log-probability", "claude": "judge"}
    np.testing.assert_allclose(last.items.loc[last.items["model"] == "claude", "cost"], 0.001)
