"""Posterior predictive checks replicate each comparison model's own likelihood."""

import arviz as az
import numpy as np

from pipeline.stats import predictive_check


def posterior(**values):
    return az.from_dict(posterior={k: np.broadcast_to(v, (2, 500, *np.shape(v))).copy()
                                   for k, v in values.items()})


def test_within_item_deviations_are_replicated_centred_in_their_item():
    # 400 items labelled for two models: each deviation is ±d/2, of variance sigma²/2
    items = np.repeat(np.arange(400), 2)
    n = len(items)
    idata = posterior(beta=np.zeros(2), bias=np.zeros((2, 1)), sigma=1.5)
    predictive_check.within_item(idata, np.zeros(n), np.zeros((n, 2)), np.zeros((n, 2)),
                                 items, scale=2.0)
    replicated = idata.posterior_predictive["y"].values
    assert replicated.shape[:2] == (2, predictive_check.MAX_DRAWS // 2)
    assert np.allclose(replicated.reshape(-1, n)[:, 0::2], -replicated.reshape(-1, n)[:, 1::2])
    assert abs(replicated.std() - 1.5 * 2.0 / np.sqrt(2)) < 0.05
    assert idata.observed_data["y"].shape == (n,)


def test_paired_differences_are_replicated_around_their_group_bias():
    idata = posterior(beta=np.zeros(2), bias=np.array([0.0, 1.0]), sigma=0.5)
    group = np.repeat([0, 1], 500)
    predictive_check.paired_difference(idata, np.zeros(1000), np.zeros((1000, 2)), group, 2.0)
    replicated = idata.posterior_predictive["y"].values.reshape(-1, 1000)
    assert abs(replicated[:, group == 1].mean() - 2.0) < 0.05
    assert abs(replicated[:, group == 0].std() - 1.0) < 0.05


def test_binary_labels_are_replicated_with_a_fresh_item_effect():
    idata = posterior(a=np.array([0.0]), bias=np.array([0.0]), beta=np.zeros(2),
                      gamma=np.zeros(2), tau_u=0.0)
    n = 2000
    predictive_check.bernoulli(idata, np.ones(n), np.zeros((n, 2)), np.zeros(n),
                               np.zeros(n, dtype=int), np.arange(n))
    replicated = idata.posterior_predictive["y"].values
    assert set(np.unique(replicated)) == {0.0, 1.0}
    assert abs(replicated.mean() - 0.5) < 0.01  # logit⁻¹(0)
