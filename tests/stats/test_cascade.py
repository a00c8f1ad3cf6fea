"""The cascade model: parameters recovered from simulated data, expected error and cost against a
simulation of the cascade, ties / constant confidences / a model that is always right, and the
checks at the boundary."""

import numpy as np
import pandas as pd
import pytest

from pipeline.cascade import CascadeEvaluation, CascadeFit, evaluate_cascade, fit_cascade
from pipeline.stats.cascade import (
    DEFAULT_POINTS,
    Copula,
    Marginal,
    assemble_cascade,
    simulate_cascade,
)

TRUTH_3 = dict(means=[0.5, 1.0, 1.6], sds=[1.0, 1.3, 0.8], intercepts=[-0.2, 0.4, 1.0],
               slopes=[1.4, 1.1, 0.9], costs=[1.0, 4.0, 15.0])
MODELS_3 = ["m0", "m1", "m2"]


def _true_marginal(mean, sd, intercept, slope):
    empty = np.zeros(0)
    return Marginal("probability", empty, empty, empty, np.ones(1), np.array([mean]),
                    np.array([sd]), intercept, slope, -1e6, 1e6)


def _truth(k, **overrides):
    truth = {key: value[:k] for key, value in TRUTH_3.items()}
    return {**truth, **overrides}


# --- the copulas' closed forms ---------------------------------------------------------------

@pytest.mark.parametrize("copula", [Copula("gaussian", 0.7), Copula("gaussian", -0.4),
                                    Copula("gumbel", 2.5), Copula("independence", 0.0)])
def test_density_and_h_function_are_the_derivatives_of_the_cdf(copula):
    u, v, d = np.array([0.2, 0.5, 0.85]), np.array([0.3, 0.6, 0.9]), 1e-4
    h = (copula.cdf(u + d, v) - copula.cdf(u - d, v)) / (2 * d)
    np.testing.assert_allclose(copula.h(v, u), h, atol=1e-6)
    density = (copula.cdf(u + d, v + d) - copula.cdf(u + d, v - d) - copula.cdf(u - d, v + d)
               + copula.cdf(u - d, v - d)) / (4 * d * d)
    np.testing.assert_allclose(np.exp(copula.logpdf(u, v)), density, rtol=1e-4)
    np.testing.assert_allclose(copula.h_inverse(copula.h(v, u), u), v, atol=1e-9)


def test_kendall_tau_of_the_families():
    assert Copula("gumbel", 2.0).kendall_tau == pytest.approx(0.5)
    assert Copula("gaussian", np.sin(np.pi / 4)).kendall_tau == pytest.approx(0.5)


# --- the model against a simulation of the cascade ---------------------------------------------

@pytest.fixture(scope="module")
def three_model_truth():
    truth = _truth(3)
    copulas = [Copula("gumbel", 2.0), Copula("gaussian", 0.5)]
    marginals = [_true_marginal(*p) for p in zip(truth["means"], truth["sds"],
                                                  truth["intercepts"], truth["slopes"])]
    model = assemble_cascade(MODELS_3, marginals, copulas, truth["costs"], cost_weight=0.0)
    frame = simulate_cascade(200_000, truth["means"], truth["sds"], copulas, truth["intercepts"],
                             truth["slopes"], truth["costs"], seed=7)
    return truth, model, frame


@pytest.mark.parametrize("thresholds", [(0.55, 0.7), (0.8, 0.45), (0.3, 0.9)])
def test_expected_error_and_cost_match_a_simulation_at_the_true_parameters(three_model_truth,
                                                                          thresholds):
    truth, model, frame = three_model_truth
    expected = model.expected(thresholds)
    realised = evaluate_cascade(frame, MODELS_3, thresholds)
    error_se = np.sqrt(realised.error_rate * (1 - realised.error_rate) / realised.n_items)
    assert abs(expected["expected_error"] - realised.error_rate) < 4 * error_se + 1e-3
    per_item = np.cumsum(truth["costs"])  # what an item answered by model j costs
    shares = np.array(realised.answered_share)
    cost_se = np.sqrt((shares @ per_item**2 - (shares @ per_item) ** 2) / realised.n_items)
    assert abs(expected["expected_cost"] - realised.mean_cost) < 4 * cost_se + 2e-3


def test_fitted_thresholds_deliver_what_the_model_expects_on_fresh_data():
    truth = _truth(2)
    copulas = [Copula("gaussian", 0.6)]
    train = simulate_cascade(3000, copulas=copulas, seed=1, **truth)
    test = simulate_cascade(100_000, copulas=copulas, seed=2, **truth)
    fit = fit_cascade(train, ["m0", "m1"], cost_weight=0.02)
    realised = evaluate_cascade(test, ["m0", "m1"], fit.thresholds)
    assert fit.expected_error == pytest.approx(realised.error_rate, abs=0.015)
    assert fit.expected_cost == pytest.approx(realised.mean_cost, rel=0.03)


# --- recovery of known parameters ---------------------------------------------------------------

def _check_recovery(fit, truth, copulas, tol_margin, tol_copula, tol_logit):
    for marginal, mean, sd, b0, b1 in zip(fit.marginals, truth["means"], truth["sds"],
                                          truth["intercepts"], truth["slopes"]):
        assert marginal.mean == pytest.approx(mean, abs=tol_margin)
        assert marginal.sd == pytest.approx(sd, abs=tol_margin)
        assert marginal.intercept == pytest.approx(b0, abs=tol_logit)
        assert marginal.slope == pytest.approx(b1, abs=tol_logit)
    for fitted, true in zip(fit.copulas, copulas):
        assert fitted.family == true.family
        assert fitted.kendall_tau == pytest.approx(true.kendall_tau, abs=tol_copula)


@pytest.mark.parametrize("copula", [Copula("gaussian", 0.6), Copula("gumbel", 2.0)])
def test_two_models_recover_the_marginals_correctness_and_copula(copula):
    truth = _truth(2)
    frame = simulate_cascade(3000, copulas=[copula], seed=3, **truth)
    fit = fit_cascade(frame, ["m0", "m1"], cost_weight=0.0)
    _check_recovery(fit, truth, [copula], tol_margin=0.1, tol_copula=0.05, tol_logit=0.3)


def test_three_models_recover_a_mixed_chain():
    truth = _truth(3)
    copulas = [Copula("gumbel", 2.5), Copula("gaussian", 0.4)]
    frame = simulate_cascade(3000, copulas=copulas, seed=4, **truth)
    fit = fit_cascade(frame, MODELS_3, cost_weight=0.0)
    _check_recovery(fit, truth, copulas, tol_margin=0.1, tol_copula=0.05, tol_logit=0.3)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("copulas", [[Copula("gaussian", 0.7), Copula("gumbel", 1.6)],
                                     [Copula("gumbel", 3.0), Copula("gaussian", 0.2)]])
def test_three_models_recover_tightly_with_many_items(copulas, seed):
    truth = _truth(3)
    frame = simulate_cascade(20_000, copulas=copulas, seed=10 + seed, transform="logprob",
                             **truth)
    fit = fit_cascade(frame, MODELS_3, cost_weight=0.0)
    _check_recovery(fit, truth, copulas, tol_margin=0.04, tol_copula=0.02, tol_logit=0.12)


# --- the curve ----------------------------------------------------------------------------------

def test_the_curve_trades_error_for_cost():
    frame = simulate_cascade(1500, copulas=[Copula("gumbel", 2.0), Copula("gaussian", 0.5)],
                             seed=5, **_truth(3))
    fit = fit_cascade(frame, MODELS_3, cost_weights=[0.0, 0.003, 0.01, 0.03, 0.1, 1.0])
    curve = fit.curve
    assert fit.thresholds is None and fit.cost_weight is None
    assert list(curve.columns[:4]) == ["cost_weight", "thresholds", "expected_error",
                                       "expected_cost"]
    assert all(len(t) == 2 for t in curve["thresholds"])
    assert (np.diff(curve["expected_cost"]) <= 1e-9).all()
    assert (np.diff(curve["expected_error"]) >= -1e-9).all()
    assert curve["expected_cost"].iloc[-1] == pytest.approx(1.0)  # the first model answers all
    for _, row in curve.iterrows():
        assert fit.expected(row["thresholds"])["expected_cost"] == \
            pytest.approx(row["expected_cost"], abs=1e-6)


def test_the_default_sweep_spans_cheapest_to_most_accurate():
    frame = simulate_cascade(800, copulas=[Copula("gaussian", 0.5)], seed=6, **_truth(2))
    fit = fit_cascade(frame, ["m0", "m1"])
    assert 10 <= len(fit.curve) <= DEFAULT_POINTS
    cost = fit.curve["expected_cost"].to_numpy()
    assert cost.min() == pytest.approx(1.0, abs=1e-6)
    assert cost.max() > 4.0
    # the points cover the cost range: no gap much wider than an even spacing's
    assert np.max(np.abs(np.diff(cost))) < 3 * (cost.max() - cost.min()) / (len(cost) - 1)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_the_enumerated_optimum_is_the_quadratures_global_one(k):
    truth = {key: (value + [extra])[:k] for (key, value), extra in
             zip(TRUTH_3.items(), [2.0, 0.8, 1.3, 0.8, 40.0])}
    copulas = [Copula("gumbel", 2.0), Copula("gaussian", 0.5), Copula("gaussian", 0.3)]
    frame = simulate_cascade(400, copulas=copulas[:k - 1], seed=13, **truth)
    models = [f"m{j}" for j in range(k)]
    fit = fit_cascade(frame, models, cost_weight=0.02)
    shares = np.random.default_rng(0).uniform(size=(20_000, k - 1))
    error, cost = fit._quadrature.evaluate(shares)
    chosen = fit.expected(fit.thresholds)
    assert chosen["expected_error"] + 0.02 * chosen["expected_cost"] <= \
        np.min(error + 0.02 * cost) + 1e-9
    if k <= 3:  # the enumeration's table is the quadrature's value at each vertex
        frontier = fit._frontier
        picks = np.random.default_rng(1).integers(0, 257, size=(50, k - 1))
        vertices = np.column_stack([frontier.shares[j][picks[:, j]] for j in range(k - 1)])
        error, cost = fit._quadrature.evaluate(vertices)
        np.testing.assert_allclose(frontier.error[tuple(picks.T)], error, atol=1e-12)
        np.testing.assert_allclose(frontier.cost[tuple(picks.T)], cost, atol=1e-12)


# --- ties, constant confidences, a model that is always right -----------------------------------

def test_verbalised_confidences_with_ties_get_thresholds_at_observed_levels():
    frame = simulate_cascade(2000, copulas=[Copula("gaussian", 0.5)], seed=8, **_truth(2))
    frame["confidence"] = np.round(frame["confidence"], 1)  # 0.0, 0.1, ..., 1.0
    fit = fit_cascade(frame, ["m0", "m1"], cost_weight=0.03)
    levels = np.round(np.arange(0, 1.01, 0.1), 1)
    threshold = fit.thresholds[0]
    assert np.isinf(threshold) or np.min(np.abs(levels - threshold)) < 1e-6
    realised = evaluate_cascade(frame, ["m0", "m1"], fit.thresholds)
    assert fit.expected_error == pytest.approx(realised.error_rate, abs=0.02)
    assert fit.expected_cost == pytest.approx(realised.mean_cost, rel=0.03)


def test_log_probabilities_with_a_point_mass_at_zero():
    frame = simulate_cascade(2000, copulas=[Copula("gumbel", 2.0)], seed=9, transform="logprob",
                             **_truth(2))
    top = frame["confidence"] > -0.05
    frame.loc[top, "confidence"] = 0.0  # the provider rounds near-certain answers to log p = 0
    fit = fit_cascade(frame, ["m0", "m1"], cost_weight=0.02)
    first = fit.marginals[0]
    assert first.transform == "logprob" and 0.0 in first.atoms
    assert first.atom_mass[list(first.atoms).index(0.0)] == pytest.approx(
        top[frame["model"] == "m0"].mean())
    realised = evaluate_cascade(frame, ["m0", "m1"], fit.thresholds)
    assert fit.expected_error == pytest.approx(realised.error_rate, abs=0.02)
    assert fit.expected_cost == pytest.approx(realised.mean_cost, rel=0.03)


def test_a_constant_confidence_makes_an_all_or_nothing_stage():
    frame = simulate_cascade(500, copulas=[Copula("gaussian", 0.5)], seed=10, **_truth(2))
    frame.loc[frame["model"] == "m0", "confidence"] = 0.7
    cheap = fit_cascade(frame, ["m0", "m1"], cost_weight=10.0)
    accurate = fit_cascade(frame, ["m0", "m1"], cost_weight=0.0)
    assert cheap.copulas[0].family == "independence"
    assert evaluate_cascade(frame, ["m0", "m1"], cheap.thresholds).answered_share == (1.0, 0.0)
    assert evaluate_cascade(frame, ["m0", "m1"], accurate.thresholds).answered_share == (0.0, 1.0)


@pytest.mark.parametrize("always_right", ["m0", "m1"])
def test_a_model_that_is_always_right(always_right):
    frame = simulate_cascade(300, copulas=[Copula("gaussian", 0.5)], seed=11, **_truth(2))
    frame.loc[frame["model"] == always_right, "correct"] = 1
    fit = fit_cascade(frame, ["m0", "m1"], cost_weight=0.001)
    realised = evaluate_cascade(frame, ["m0", "m1"], fit.thresholds)
    assert fit.expected_error < 0.03
    assert realised.error_rate < 0.03
    if always_right == "m0":  # nothing to gain from the second model
        assert realised.answered_share[0] == 1.0


# --- evaluate_cascade's semantics ---------------------------------------------------------------

def test_evaluate_cascade_counts_cumulative_cost_and_the_answering_models_correctness():
    frame = pd.DataFrame({
        "item_id": [1, 1, 1, 2, 2, 2, 3, 3, 3],
        "model": ["a", "b", "c"] * 3,
        "confidence": [0.9, 0.1, 0.1, 0.2, 0.8, 0.5, 0.2, 0.3, 0.1],
        "correct": [0, 1, 1, 1, 1, 0, 1, 1, 0],
        "cost": [1, 10, 100] * 3,
    })
    result = evaluate_cascade(frame, ["a", "b", "c"], [0.5, 0.5])
    assert isinstance(result, CascadeEvaluation)
    # item 1: a answers (wrong, cost 1); item 2: b answers (right, 11); item 3: c (wrong, 111)
    assert result.error_rate == pytest.approx(2 / 3)
    assert result.mean_cost == pytest.approx((1 + 11 + 111) / 3)
    assert result.answered_share == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert evaluate_cascade(frame, ["a", "b", "c"], [0.9, 0.3]).answered_share == \
        pytest.approx((1 / 3, 2 / 3, 0.0))  # >= answers


# --- the boundary -------------------------------------------------------------------------------

@pytest.fixture
def small():
    return simulate_cascade(40, copulas=[Copula("gaussian", 0.5)], seed=12, **_truth(2))


@pytest.mark.parametrize("change, message", [
    (lambda f: f.drop(columns="cost"), r"missing column\(s\) \['cost'\]"),
    (lambda f: f[f["model"] != "m1"], "no rows for model 'm1'"),
    (lambda f: f.assign(correct=f["correct"] * 2), "'correct' must be 0 or 1"),
    (lambda f: f.assign(confidence=np.where(f["model"] == "m1", np.nan, f["confidence"])),
     "'confidence' has 40 missing.*model 'm1'"),
    (lambda f: f.drop(index=f.index[(f["model"] == "m0") & (f["item_id"] < 3)]),
     "3 item\\(s\\) have no row for model 'm0'"),
    (lambda f: pd.concat([f, f.iloc[:1]]), "more than one row per"),
    (lambda f: f.assign(cost=-1.0), "'cost' must be >= 0"),
])
def test_bad_frames_are_refused_with_the_column_or_model_named(small, change, message):
    with pytest.raises(ValueError, match=message):
        fit_cascade(change(small), ["m0", "m1"])
    with pytest.raises(ValueError, match=message):
        evaluate_cascade(change(small), ["m0", "m1"], [0.5])


def test_bad_models_and_thresholds_are_refused(small):
    with pytest.raises(ValueError, match="at least 2 models"):
        fit_cascade(small, ["m0"])
    with pytest.raises(ValueError, match="each model once"):
        fit_cascade(small, ["m0", "m0"])
    with pytest.raises(TypeError, match="sequence of model names"):
        fit_cascade(small, "m0")
    with pytest.raises(ValueError, match="one per model but the last"):
        evaluate_cascade(small, ["m0", "m1"], [0.1, 0.2])
    with pytest.raises(ValueError, match="cost_weight"):
        fit_cascade(small, ["m0", "m1"], cost_weight=-1)


def test_other_models_rows_are_ignored_and_the_result_is_a_cascade_fit(small):
    other = small[small["model"] == "m0"].assign(model="unused", confidence=np.nan)
    fit = fit_cascade(pd.concat([small, other]), ["m0", "m1"], cost_weight=0.01)
    assert isinstance(fit, CascadeFit) and fit.models == ("m0", "m1")
    assert len(fit.thresholds) == 1
