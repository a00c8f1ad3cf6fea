"""pipeline.predictive: the single-pass moments agree with the brute force over draws."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.predictive import moments_by_draws, predictive_moments


@pytest.fixture(scope="module")
def posterior():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3))
    coef = rng.multivariate_normal([0.8, -0.4, 0.3], 0.02 * np.eye(3) + 0.01, size=1000)
    intercept = 0.2 + 0.5 * (coef[:, 0] - 0.8) + rng.normal(0, 0.1, 1000)  # correlated with beta
    sigma = np.abs(rng.normal(0.7, 0.05, 1000))
    return X, coef, intercept, sigma


def test_identity_link_is_exact(posterior):
    X, coef, intercept, sigma = posterior
    fast = predictive_moments(X, coef, intercept, sigma, chunk_rows=128)
    brute = moments_by_draws(X, coef, intercept, sigma)
    for got, want in zip(fast, brute):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert np.all(fast.sd_predictive > fast.sd_epistemic)


def test_logit_link_within_the_normal_approximation(posterior):
    """Documented tolerance: 2e-3 on p and its sd when eta's posterior is normal; the probit
    approximation of a random effect (sigma_draws) adds up to ~1e-2."""
    X, coef, intercept, sigma = posterior
    fast = predictive_moments(X, coef, intercept, link="logit")
    brute = moments_by_draws(X, coef, intercept, link="logit")
    for got, want in zip(fast, brute):
        np.testing.assert_allclose(got, want, atol=2e-3)
    fast = predictive_moments(X, coef, intercept, sigma, link="logit")
    brute = moments_by_draws(X, coef, intercept, sigma, link="logit")
    for got, want in zip(fast, brute):
        np.testing.assert_allclose(got, want, atol=1e-2)
    np.testing.assert_allclose(fast.sd_predictive, np.sqrt(fast.mean * (1 - fast.mean)))


def test_bad_inputs_are_named(posterior):
    X, coef, intercept, _ = posterior
    with pytest.raises(ValueError,
                       match=r"coef_draws has 2 coefficients per draw but X has 3 columns"):
        predictive_moments(X, coef[:, :2])
    with pytest.raises(ValueError, match=r"intercept_draws must have one value per draw \(1000\)"):
        predictive_moments(X, coef, intercept[:10])
    with pytest.raises(ValueError, match=r"unknown link 'probit'"):
        predictive_moments(X, coef, link="probit")
    with pytest.raises(ValueError, match=r"X has non-finite values"):
        predictive_moments(np.where(X > 2, np.nan, X), coef)
