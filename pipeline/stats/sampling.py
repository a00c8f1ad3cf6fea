"""What the paired model (``compare``) and the joint model (``joint``) share: the unit of
their priors, and how a fit's posterior is read and judged."""

from __future__ import annotations

import warnings

import numpy as np

# The parameters whose convergence is judged: every one that enters Δ, and the scales that
# shape them (a stuck scale misplaces every group's Δ).
DIAGNOSED = ("a", "beta", "gamma", "bias", "tau_u", "sigma", "cut")
MAX_R_HAT = 1.01
MIN_ESS = 400  # bulk and tail
# One fit's row of the fit_diagnostics table
FIT_COLUMNS = ["candidate", "dimension", "max_r_hat", "min_ess_bulk", "min_ess_tail",
               "divergences", "failures"]


METRIC_SLOTS = 2  # models are compiled for this many metrics at least (see metric_slots)


def metric_slots(X: np.ndarray) -> np.ndarray:
    """Standardised metrics ``X`` (rows x metrics) with zero columns up to METRIC_SLOTS, so
    that a fit on one metric and a fit on two share one compiled model (a compile costs about
    18 s on two cores). A zero column leaves the likelihood as it was: its slope keeps its
    N(0, 1) prior, independent of everything else, and adds nothing to any Δ."""
    missing = METRIC_SLOTS - X.shape[1]
    return np.hstack([X, np.zeros((X.shape[0], missing))]) if missing > 0 else X


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
    """max_r_hat, min_ess_bulk, min_ess_tail and divergences of a fit, over the parameters
    in DIAGNOSED."""
    import arviz as az

    names = [v for v in DIAGNOSED if v in idata.posterior]
    with warnings.catch_warnings():  # constant entries divide by a zero variance; dropped below
        warnings.simplefilter("ignore", RuntimeWarning)
        summary = az.summary(idata, var_names=names, kind="all")
    # Entries fixed by construction (the incumbent's zero bias, the first group's level) have
    # no r_hat; they are not a failure.
    summary = summary[summary["sd"] > 0]
    divergences = 0
    if "diverging" in idata.sample_stats:
        divergences = int(idata.sample_stats["diverging"].sum())
    return {
        "max_r_hat": float(summary["r_hat"].max()),
        "min_ess_bulk": float(summary["ess_bulk"].min()),
        "min_ess_tail": float(summary["ess_tail"].min()),
        "divergences": divergences,
    }


def fit_failures(found: dict) -> list[str]:
    """What is wrong with a fit whose ``diagnostics`` are ``found``; empty when it passed. A
    check whose figure was not recorded (None) is skipped; NaN fails."""
    problems = []
    r_hat = found.get("max_r_hat")
    if r_hat is not None and not r_hat <= MAX_R_HAT:
        problems.append(f"max r_hat {r_hat:.3f} > {MAX_R_HAT}")
    for kind in ("bulk", "tail"):
        ess = found.get(f"min_ess_{kind}")
        if ess is not None and not ess >= MIN_ESS:
            problems.append(f"min {kind} ESS {ess:.0f} < {MIN_ESS}")
    if found.get("divergences"):
        problems.append(f"{found['divergences']} divergent transitions")
    return problems


def stacked(idata, name) -> np.ndarray:
    """Posterior draws of ``name`` with chains and draws flattened into the first axis."""
    arr = idata.posterior[name].values  # chain, draw, ...
    return arr.reshape(arr.shape[0] * arr.shape[1], *arr.shape[2:])


def name_dims(idata, dims: dict[str, tuple[str, ...]], coords: dict[str, list]) -> None:
    """Give each parameter in ``dims`` named dimensions with the coordinates in ``coords``
    (regions, models, metrics by name), in the posterior and its warm-up, in place, so a
    saved fit reads without the code that made it. Any other parameter with extra dimensions
    is dropped: the free part of a constrained one (``bias_free``, ``a_rest``) or a
    transformed copy (``p_cat_simplex__``), whose full version is kept; parameters without
    extra dimensions are kept as they are."""
    import xarray as xr

    for group in ("posterior", "warmup_posterior"):
        if group not in idata.groups():
            continue
        found = idata[group]
        kept = {}
        for name, values in found.data_vars.items():
            if values.ndim == 2:
                kept[name] = values
            elif name in dims:
                names = dims[name]
                kept[name] = xr.DataArray(
                    values.values, dims=("chain", "draw", *names),
                    coords={"chain": found["chain"].values, "draw": found["draw"].values,
                            **{dim: list(coords[dim]) for dim in names}})
        setattr(idata, group, xr.Dataset(kept, attrs=dict(found.attrs)))


def metric_names(names) -> list[str]:
    """The coordinates of the metric dimension: the metrics' names, then a name for each
    zero column ``metric_slots`` added."""
    names = [str(name) for name in names]
    return names + [f"unused_slot_{i}" for i in range(len(names), METRIC_SLOTS)]


def group_dim(group_col: str | None) -> str:
    """The name of a fit's group dimension: ``group_col`` (the pipeline's ``region``), or
    ``group`` when there is none or the name is taken."""
    taken = {"chain", "draw", "metric", "auto_metric", "model", "level", "cut_point"}
    return group_col if group_col and group_col not in taken else "group"
