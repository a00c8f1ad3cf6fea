"""The figures of a migration, each returned as PNG bytes: Δ's posterior per region with the
margin and the decision, the calibration of the automated score against human labels, a
posterior predictive check, the trace and rank plot of a fit's worst parameter, and the replay's
cost and latency per model.

Drawn with matplotlib on its Agg canvas (a ``Figure`` of its own, never pyplot's global state,
so a plot made in a Dagster step or a notebook changes no backend) and ArviZ for posteriors
and sampler diagnostics. Names from data (regions, models) are text, never markup: ``label``
escapes matplotlib's mathtext (``$``) before any name reaches a figure.
"""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pipeline.data.markdown import ALL_TRAFFIC
from pipeline.stats.sampling import DIAGNOSED

DECISION_COLOURS = {"migrate": "#2e7d32", "hold": "#c62828", "need_more_labels": "#ef8f00",
                    "fit_failed": "#757575"}
_DPI = 100


def label(name) -> str:
    """``name`` as plain text in a figure: a ``$`` would start mathtext (and an odd number of
    them fails to draw), so each is escaped; None (a NULL region) is all traffic."""
    if name is None or (isinstance(name, float) and math.isnan(name)):
        return ALL_TRAFFIC
    return str(name).replace("$", r"\$")


def png(figure: Figure) -> bytes:
    """The figure as PNG bytes, drawn on the Agg canvas."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight")
    return buffer.getvalue()


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), dpi=_DPI, layout="constrained")


# ----------------------------------------------------------------------------- Δ posterior
def delta_posterior(draws: pd.DataFrame, decisions: pd.DataFrame, title: str) -> bytes:
    """One panel per dimension, one ridge per region (all traffic first): the posterior
    density of Δ (ArviZ's KDE), its central interval shaded and its mean marked, the
    non-inferiority margin (−margin, dashed) and zero (solid), and the decision at the right,
    in its colour.

    ``draws``: dimension, region, delta (one row per draw); ``decisions``: dimension,
    region, decision, margin, ci_low, ci_high, delta_mean (region None: all traffic)."""
    import arviz as az

    dimensions = sorted(decisions["dimension"].unique())
    regions = _region_order(decisions["region"])
    figure = _figure(4.2 * max(len(dimensions), 1), 0.55 * len(regions) + 1.4)
    axes = figure.subplots(1, max(len(dimensions), 1), sharey=True, squeeze=False)[0]
    by_slice = {(dimension, None if pd.isna(region) else region): group["delta"].to_numpy()
                for (dimension, region), group in draws.groupby(["dimension", "region"],
                                                                dropna=False)}
    for ax, dimension in zip(axes, dimensions):
        rows = decisions[decisions["dimension"] == dimension]
        for position, region in enumerate(regions):
            row = _slice_row(rows, region)
            values = by_slice.get((dimension, region))
            if row is None or values is None or len(values) < 2:
                continue
            y = len(regions) - 1 - position
            colour = DECISION_COLOURS.get(row["decision"], "#455a64")
            grid, density = az.kde(values)
            density = 0.8 * density / density.max()
            ax.plot(grid, y + density, color=colour, lw=1)
            inside = (grid >= row["ci_low"]) & (grid <= row["ci_high"])
            ax.fill_between(grid[inside], y, y + density[inside], color=colour, alpha=0.35,
                            lw=0)
            ax.plot([row["delta_mean"]], [y], "o", color=colour, ms=4)
            ax.annotate(label(row["decision"]), (1.0, y + 0.3), xycoords=("axes fraction",
                        "data"), xytext=(4, 0), textcoords="offset points", fontsize=8,
                        color=colour, va="center")
        margin = float(rows["margin"].iloc[0]) if len(rows) else 0.0
        ax.axvline(0.0, color="#424242", lw=0.8)
        ax.axvline(-margin, color="#424242", lw=0.8, ls="--")
        ax.set_title(f"{label(dimension)} (margin {margin:g})", fontsize=10)
        ax.set_xlabel("Δ = candidate − incumbent (human scale)", fontsize=8)
        ax.tick_params(labelsize=8)
    axes[0].set_yticks(range(len(regions)))
    axes[0].set_yticklabels([label(r) for r in reversed(regions)], fontsize=8)
    axes[0].set_ylim(-0.3, len(regions))
    figure.suptitle(label(title), fontsize=11)
    return png(figure)


def _region_order(regions: pd.Series) -> list:
    """All traffic (None) first, then the regions by name."""
    named = sorted({r for r in regions if isinstance(r, str)})
    return ([None] if regions.isna().any() else []) + named


def _slice_row(rows: pd.DataFrame, region) -> pd.Series | None:
    match = rows[rows["region"].isna()] if region is None else rows[rows["region"] == region]
    return None if match.empty else match.iloc[0]


# ----------------------------------------------------------------------------- calibration
def linear_band(x: np.ndarray, y: np.ndarray, grid: np.ndarray,
                prob: float = 0.94) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The posterior mean and central ``prob`` band of E[y | x] on ``grid`` for a straight
    line fitted to (x, y) with the reference prior (flat on the line, 1/σ² on the noise):
    closed form, a Student-t with n − 2 degrees of freedom around the least-squares line."""
    from scipy import stats

    x, y = np.asarray(x, float), np.asarray(y, float)
    n = len(x)
    design = np.column_stack([np.ones(n), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    mean = coef[0] + coef[1] * grid
    if n <= 2 or np.ptp(x) == 0:
        return mean, mean, mean
    residual = y - design @ coef
    s2 = float(residual @ residual) / (n - 2)
    inverse = np.linalg.inv(design.T @ design)
    at = np.column_stack([np.ones(len(grid)), grid])
    se = np.sqrt(s2 * np.einsum("ij,jk,ik->i", at, inverse, at))
    half = stats.t.ppf(0.5 + prob / 2, n - 2) * se
    return mean, mean - half, mean + half


def calibration(points: pd.DataFrame, title: str, xlabel: str, ylabel: str,
                prob: float = 0.94) -> bytes:
    """The labelled responses, human score against automated score, one colour per model,
    each model's fitted line (``linear_band``) with its band. The vertical gap between the
    candidate's and the incumbent's lines at the same automated score is what the metric
    misses about the candidate: the bias (rectifier) the paired model estimates per region.

    ``points``: model, auto, human (one row per labelled response); the first model in
    order of appearance is drawn first."""
    figure = _figure(5.2, 3.8)
    ax = figure.subplots()
    palette = ["#1565c0", "#e65100", "#6a1b9a", "#2e7d32", "#ad1457"]
    rng = np.random.default_rng(0)
    for number, (model, rows) in enumerate(points.groupby("model", sort=False)):
        colour = palette[number % len(palette)]
        x, y = rows["auto"].to_numpy(float), rows["human"].to_numpy(float)
        jitter = rng.uniform(-0.06, 0.06, len(y)) * (np.ptp(y) or 1.0)  # integer labels
        ax.scatter(x, y + jitter, s=7, alpha=0.35, color=colour, lw=0)
        if len(x) >= 3 and np.ptp(x) > 0:
            grid = np.linspace(x.min(), x.max(), 50)
            mean, low, high = linear_band(x, y, grid, prob)
            ax.plot(grid, mean, color=colour, lw=1.6,
                    label=f"{label(model)} (n = {len(x)})")
            ax.fill_between(grid, low, high, color=colour, alpha=0.2, lw=0)
    ax.set_xlabel(label(xlabel), fontsize=9)
    ax.set_ylabel(label(ylabel), fontsize=9)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=8, title=f"fitted line, {prob:.0%} band", title_fontsize=8)
    ax.set_title(label(title), fontsize=10)
    return png(figure)


# ----------------------------------------------------------------------------- a fit's health
def worst_parameter(idata, var_names=None) -> dict:
    """The parameter entry that converged worst: the highest r_hat, ties (and a fit whose
    r_hat is everywhere undefined) broken by the lowest bulk ESS. Entries fixed by
    construction (no variance: the incumbent's zero bias) are skipped; by default the
    parameters whose convergence the pipeline judges (``sampling.DIAGNOSED``). Returns var_name,
    coords (dim -> value, for ArviZ's ``coords``), r_hat and ess_bulk."""
    import arviz as az

    posterior = idata.posterior
    names = ([v for v in (var_names or DIAGNOSED) if v in posterior.data_vars]
             or list(posterior.data_vars))  # a model without those names: all it has
    with warnings.catch_warnings():  # constant entries divide by a zero variance: skipped
        warnings.simplefilter("ignore", RuntimeWarning)
        rhat, ess = az.rhat(idata, var_names=names), az.ess(idata, var_names=names)
    spread = posterior[names].std(("chain", "draw"))
    best = None
    for name in names:
        values = np.atleast_1d(rhat[name].values)
        sizes = np.atleast_1d(ess[name].values)
        varying = np.atleast_1d(spread[name].values) > 0
        for flat in np.flatnonzero(varying):
            r = float(values.flat[flat])
            key = (-(r if np.isfinite(r) else np.inf), float(sizes.flat[flat]))
            if best is None or key < best[0]:
                best = (key, name, flat, r, float(sizes.flat[flat]))
    if best is None:
        raise ValueError("worst_parameter: no parameter of the fit varies")
    _, name, flat, r, size = best
    dims = [d for d in posterior[name].dims if d not in ("chain", "draw")]
    index = np.unravel_index(flat, [posterior.sizes[d] for d in dims]) if dims else ()
    values = {d: posterior[name][d].values[i] for d, i in zip(dims, index)}
    # numpy scalars as Python values; names (an object array's str) as they are
    coords = {d: v.item() if isinstance(v, np.generic) else v for d, v in values.items()}
    return {"var_name": name, "coords": coords, "r_hat": r, "ess_bulk": size}


def parameter_label(worst: dict) -> str:
    """``bias[model=1, group=2]``: a parameter entry as people read it."""
    inside = ", ".join(f"{d}={v}" for d, v in worst["coords"].items())
    return f"{worst['var_name']}[{inside}]" if inside else worst["var_name"]


def trace_rank(idata, worst: dict, title: str = "") -> bytes:
    """The trace of the entry ``worst`` names (its density per chain, left) and its rank
    plot (right: ranks of the draws per chain, flat bars when the chains agree), by ArviZ."""
    import arviz as az

    figure = _figure(8.0, 2.6)
    axes = figure.subplots(1, 2, squeeze=False)
    az.plot_trace(idata, var_names=[worst["var_name"]], coords=_coords(worst), kind="rank_bars",
                  axes=axes, compact=False)
    axes[0, 0].set_title(label(parameter_label(worst)), fontsize=9)
    axes[0, 1].set_title(f"rank plot: r_hat {worst['r_hat']:.3f}, bulk ESS "
                         f"{worst['ess_bulk']:.0f}", fontsize=9)
    if title:
        figure.suptitle(label(title), fontsize=10)
    return png(figure)


def _coords(worst: dict) -> dict:
    return {d: [v] for d, v in worst["coords"].items()}


def predictive_check(idata, var_name: str, title: str = "", num_pp_samples: int = 100) -> bytes:
    """ArviZ's posterior predictive check of ``var_name`` (``posterior_predictive`` and
    ``observed_data`` groups of ``idata``): for graded data the observed distribution against
    those of data sets replicated from the posterior (``plot_ppc``); for 0/1 data, where a
    density says little, the share of ones in each replicated data set against the observed
    share (``plot_bpv`` with the mean as test statistic)."""
    import arviz as az

    figure = _figure(5.2, 3.4)
    ax = figure.subplots()
    observed = np.asarray(idata.observed_data[var_name].values, float)
    if set(np.unique(observed)) <= {0.0, 1.0}:
        az.plot_bpv(idata, kind="t_stat", t_stat="mean", var_names=[var_name], ax=ax)
        ax.set_xlabel("share of ones (refused or answered as it should)", fontsize=8)
    else:
        replicated = idata.posterior_predictive[var_name]
        available = replicated.sizes["chain"] * replicated.sizes["draw"]
        az.plot_ppc(idata, var_names=[var_name], ax=ax, random_seed=0,
                    num_pp_samples=min(num_pp_samples, available))
        ax.set_xlabel("labelled difference to the item's mean (human scale)", fontsize=8)
        ax.legend(fontsize=8)
    ax.tick_params(labelsize=8)
    if title:
        ax.set_title(label(title), fontsize=10)
    return png(figure)


# ----------------------------------------------------------------------------- replay
def replay_costs(stats: pd.DataFrame) -> bytes:
    """Per model (and source where a model has several): cost per 1,000 requests, and the
    median and 95th-percentile latency. ``stats``: the rows of ``v_replay_stats``."""
    stats = stats.assign(name=[label(m) if len(stats[stats["model"] == m]) == 1
                               else f"{label(m)} ({label(s)})"
                               for m, s in zip(stats["model"], stats["source"])])
    per_thousand = 1000 * stats["cost_usd"].fillna(0) / stats["requests"].clip(lower=1)
    figure = _figure(8.0, 0.45 * len(stats) + 1.6)
    cost_ax, latency_ax = figure.subplots(1, 2, sharey=True)
    y = np.arange(len(stats))
    cost_ax.barh(y, per_thousand, color="#1565c0")
    cost_ax.set_xlabel("cost per 1,000 requests (USD)", fontsize=8)
    latency_ax.barh(y - 0.2, stats["latency_p50_ms"].fillna(0), height=0.4, color="#2e7d32",
                    label="median")
    latency_ax.barh(y + 0.2, stats["latency_p95_ms"].fillna(0), height=0.4, color="#a5d6a7",
                    label="95th percentile")
    latency_ax.set_xlabel("latency (ms)", fontsize=8)
    for row, (cost, latency) in enumerate(zip(stats["cost_usd"], stats["latency_p50_ms"])):
        for ax, value in ((cost_ax, cost), (latency_ax, latency)):
            if pd.isna(value):  # logged answers: production kept no figure
                ax.annotate("not recorded", (0, row), xytext=(4, 0), textcoords="offset points",
                            fontsize=8, color="#757575", va="center")
    latency_ax.legend(fontsize=8)
    cost_ax.set_yticks(y)
    cost_ax.set_yticklabels(stats["name"], fontsize=8)
    cost_ax.invert_yaxis()
    for ax in (cost_ax, latency_ax):
        ax.tick_params(labelsize=8)
    figure.suptitle("Replay: cost and latency per model", fontsize=10)
    return png(figure)


# ----------------------------------------------------------------------------- cascade
def cascade_curve(curve: pd.DataFrame, singles: pd.DataFrame, title: str,
                  measured_on: str | None = None) -> bytes:
    """A cascade's error-cost curve: what the fitted model expects at each point of the curve
    (line), what those points' thresholds measured on items the fit did not see (dots, with
    their lower envelope dashed), and each single model alone (a star each, named).

    ``curve``: expected_cost, expected_error, measured_cost, measured_error (one row per
    point; the measured columns may be missing or NaN); ``singles``: model, error, cost."""
    figure = _figure(5.6, 3.9)
    ax = figure.subplots()
    expected = curve.sort_values("expected_cost")
    ax.plot(expected["expected_cost"], expected["expected_error"], "-", color="#1565c0", lw=1.6,
            marker="o", ms=2.5, label="cascade: the model's expectation")
    if {"measured_cost", "measured_error"} <= set(curve.columns):
        measured = curve.dropna(subset=["measured_cost", "measured_error"]).sort_values(
            "measured_cost")
        if len(measured):
            ax.scatter(measured["measured_cost"], measured["measured_error"], s=16,
                       color="#e65100", zorder=3, label="cascade: measured held out")
            ax.plot(measured["measured_cost"], np.minimum.accumulate(
                measured["measured_error"].to_numpy()), "--", color="#e65100", lw=1, alpha=0.7)
    for row in singles.itertuples(index=False):
        ax.plot([row.cost], [row.error], "*", color="#2e7d32", ms=11, zorder=4)
        ax.annotate(label(row.model), (row.cost, row.error), xytext=(5, 4),
                    textcoords="offset points", fontsize=8, color="#2e7d32")
    ax.plot([], [], "*", color="#2e7d32", ms=9, label="single model alone")
    ax.set_xlabel("mean cost per request", fontsize=9)
    ax.set_ylabel("error rate", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
    ax.legend(fontsize=8, loc="best")
    ax.set_title(label(title), fontsize=10)
    if measured_on:
        figure.text(0.01, -0.02, label(f"held out: {measured_on}"), fontsize=7,
                    color="#616161", ha="left", va="top")
    return png(figure)
