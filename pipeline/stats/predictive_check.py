"""Posterior predictive checks of the comparison models: data replicated from the posterior
beside the data the fit saw, stored in the fit's InferenceData as the ``observed_data`` and
``posterior_predictive`` groups (variable ``y``) that ArviZ's ``plot_ppc`` reads.

The models' likelihoods are ``pm.Potential`` terms (item effects profiled out or integrated
by quadrature), so PyMC cannot replicate them; each is replicated here from its own
definition, for a thinned set of draws (``MAX_DRAWS``: enough for a plot, small enough to keep
with the fit), on the human scale.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

MAX_DRAWS = 100  # replicated data sets kept per fit


def _thinned(posterior: xr.Dataset) -> xr.Dataset:
    """Every k-th draw of each chain, so that chains x draws <= MAX_DRAWS."""
    per_chain = max(MAX_DRAWS // posterior.sizes["chain"], 1)
    step = max(posterior.sizes["draw"] // per_chain, 1)
    return posterior.isel(draw=slice(None, None, step)).isel(draw=slice(None, per_chain))


def _flat(posterior: xr.Dataset, name: str) -> np.ndarray:
    """(chains x draws, ...) of a variable of the thinned posterior."""
    values = posterior[name].values
    return values.reshape(-1, *values.shape[2:])


def _attach(idata, observed: np.ndarray, replicated: np.ndarray, posterior: xr.Dataset) -> None:
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    coords = {"chain": posterior["chain"].values, "draw": posterior["draw"].values,
              "obs": np.arange(len(observed))}
    idata.add_groups(
        observed_data=xr.Dataset({"y": ("obs", observed)}, coords={"obs": coords["obs"]}),
        posterior_predictive=xr.Dataset(
            {"y": (("chain", "draw", "obs"), replicated.reshape(chains, draws, -1))},
            coords=coords))


def within_item(idata, y: np.ndarray, X: np.ndarray, cells: np.ndarray, items: np.ndarray,
                scale: float, seed: int = 0) -> None:
    """The joint model (``pipeline.stats.joint``): every labelled response's deviation from
    its item's mean label. Replicated as the model defines it: the centred predictor plus
    noise ``Normal(0, sigma)`` per response, centred within its item. ``y``, ``X``, ``cells``
    as the fit saw them (centred, in units of ``scale``), ``items`` each row's item code."""
    posterior = _thinned(idata.posterior)
    beta, sigma = _flat(posterior, "beta"), _flat(posterior, "sigma")
    bias = _flat(posterior, "bias").reshape(len(beta), -1)
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((len(beta), len(y))) * sigma[:, None]
    n_items = int(items.max()) + 1 if len(items) else 0
    sums = np.zeros((len(beta), n_items))
    np.add.at(sums.T, items, noise.T)
    noise -= (sums / np.bincount(items, minlength=n_items))[:, items]
    replicated = bias @ cells.T + beta @ X.T + noise
    _attach(idata, y * scale, replicated * scale, posterior)


def paired_difference(idata, y: np.ndarray, X: np.ndarray, group: np.ndarray, scale: float,
                      seed: int = 0) -> None:
    """``compare``'s Gaussian model: each labelled item's difference candidate − incumbent,
    ``Normal(bias[group] + X @ beta, sigma)``, on the human scale (``scale``)."""
    posterior = _thinned(idata.posterior)
    beta, bias, sigma = (_flat(posterior, v) for v in ("beta", "bias", "sigma"))
    rng = np.random.default_rng(seed)
    mean = bias[:, group] + beta @ X.T
    replicated = mean + rng.standard_normal(mean.shape) * sigma[:, None]
    _attach(idata, y * scale, replicated * scale, posterior)


def bernoulli(idata, y: np.ndarray, X: np.ndarray, cand: np.ndarray, group: np.ndarray,
              item: np.ndarray, seed: int = 0) -> None:
    """``compare``'s 0/1 model: each label, ``Bernoulli(logit⁻¹(eta + u[item]))`` with a
    fresh item effect ``u ~ Normal(0, tau_u)`` per item and draw."""
    posterior = _thinned(idata.posterior)
    a, bias, beta, gamma, tau_u = (_flat(posterior, v)
                                   for v in ("a", "bias", "beta", "gamma", "tau_u"))
    rng = np.random.default_rng(seed)
    eta = (a[:, group] + bias[:, group] * cand + beta @ X.T + (gamma @ X.T) * cand)
    u = rng.standard_normal((len(a), int(item.max()) + 1)) * tau_u[:, None]
    p = 1.0 / (1.0 + np.exp(-(eta + u[:, item])))
    _attach(idata, y.astype(float), (rng.random(p.shape) < p).astype(float), posterior)
