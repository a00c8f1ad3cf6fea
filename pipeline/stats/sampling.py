"""What the paired model (``compare``) and the joint model (``joint``) share: the unit of
their priors, and how a fit's posterior is read and judged."""

from __future__ import annotations

import numpy as np

# The parameters whose convergence is judged: every one that enters Δ, the between-group and
# between-model scales included, since a stuck scale biases every group's Δ.
DIAGNOSED = ("a0", "b0", "beta", "gamma", "bias", "tau_b", "tau_m", "tau_u", "sigma", "cut")


def difference_unit(differences: np.ndarray, labels: np.ndarray) -> float:
    """The unit of the Gaussian models' priors: the sd of the labelled within-item
    differences; the labels' sd when those do not vary, else 1."""
    for values in (differences, labels):
        if len(values) > 1:
            scale = float(np.std(values, ddof=1))
            if np.isfinite(scale) and scale > 1e-9:
                return scale
    return 1.0


def diagnostics(idata) -> dict:
    """max_r_hat, min_ess_bulk and divergences of a fit, over the parameters in DIAGNOSED."""
    import arviz as az

    names = [v for v in DIAGNOSED if v in idata.posterior]
    summary = az.summary(idata, var_names=names, kind="diagnostics")
    divergences = 0
    if "diverging" in idata.sample_stats:
        divergences = int(idata.sample_stats["diverging"].sum())
    return {
        "max_r_hat": float(summary["r_hat"].max()),
        "min_ess_bulk": float(summary["ess_bulk"].min()),
        "divergences": divergences,
    }


def stacked(idata, name) -> np.ndarray:
    """Posterior draws of ``name`` with chains and draws flattened into the first axis."""
    arr = idata.posterior[name].values  # chain, draw, ...
    return arr.reshape(arr.shape[0] * arr.shape[1], *arr.shape[2:])
