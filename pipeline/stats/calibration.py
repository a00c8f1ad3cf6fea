"""Calibrating automated scores against human labels, and carrying the calibration over all
auto-scored traffic.

The model here is the seed paper's, fitted jointly for all dimensions so that one compiled
model serves a run:

    human[i] ~ Normal(intercept[dim, region] + slope[dim] * auto[i] + offset[dim, region, model],
                      sigma[dim])
    offset[dim, region, model] ~ Normal(model_offset[dim, model], offset_sd[dim])

with ``offset[dim, region, incumbent] = 0``: the offset is how much better humans rate a model
than its automated score alone predicts; partially pooled across regions, so a model that is
worse in one region is seen there without every region needing many labels. Δ (candidate
minus incumbent, mean human score over the sampled traffic) then follows per posterior draw
from each model's *mean* automated score per region, so its cost is O(draws x regions),
whatever the number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from pipeline.data.dimensions import DIMENSIONS
from pipeline.stats.sampling import FIT_COLUMNS, fit_failures

FEATURE_COLUMNS = ["request_id", "model", "region", "dimension", "auto", "auto_2", "human",
                   "n_labels"]
# What ``auto`` and ``auto_2`` hold per dimension (build_features), as a saved fit names them.
# refusal_right: the probability that the refusal behaviour is right (from `refusal`).
SIGNALS = {"correctness": {"auto": "rouge_l_f", "auto_2": "bertscore_f1"},
           "refusal": {"auto": "refusal_right"}, "style": {"auto": "style"}}
# Saved with every fit and part of population_posterior's code version: bump it when the
# model or its Δ changes.
MODEL_VERSION = "calibration-1"


def build_features(
    traffic: pd.DataFrame, auto_wide: pd.DataFrame, labels: pd.DataFrame
) -> pd.DataFrame:
    """One row per (request, model, dimension) with the dimension's automated signal in
    ``auto``, a second one in ``auto_2`` where the dimension has one (NaN otherwise), and the
    mean human label in ``human`` (NaN when unlabelled).

    * correctness: ROUGE-L F against the reference, where a reference exists (answerable
      requests); ``auto_2``: BERTScore F1 against it (NaN when that scorer is off);
    * refusal: probability the behaviour is right: the refusal score where a refusal is
      expected, one minus it elsewhere;
    * style: share of style checks passed.
    """
    rows = auto_wide.merge(
        traffic[["request_id", "region", "expects_refusal", "reference"]], on="request_id"
    )
    refusal_ok = np.where(rows["expects_refusal"], rows["refusal"], 1.0 - rows["refusal"])
    per_dimension = {
        "correctness": rows.assign(auto=rows["rouge_l_f"],
                                   auto_2=rows["bertscore_f1"])[rows["reference"].notna()],
        "refusal": rows.assign(auto=refusal_ok, auto_2=np.nan),
        "style": rows.assign(auto=rows["style"], auto_2=np.nan),
    }
    features = pd.concat(
        [frame.assign(dimension=name) for name, frame in per_dimension.items()],
        ignore_index=True,
    ).dropna(subset=["auto"])
    human = (
        labels.groupby(["request_id", "model", "dimension"])["score"]
        .agg(human="mean", n_labels="size")
        .reset_index()
    )
    features = features.merge(human, on=["request_id", "model", "dimension"], how="left")
    features["n_labels"] = features["n_labels"].fillna(0).astype(int)
    return features[FEATURE_COLUMNS]


@dataclass
class Calibration:
    draws: pd.DataFrame  # dimension, parameter, region, model, level, draw, value
    # dimension, parameter, region, model, level, mean, sd, hdi_low, hdi_high, r_hat, ess_bulk,
    # n_labels
    summary: pd.DataFrame
    divergences: int  # divergent transitions: more than a handful means the posterior is suspect
    idata: object = None  # the fit (arviz InferenceData), slope and intercept on the raw scale


def _standardisation(features: pd.DataFrame) -> tuple[dict[str, float], dict[str, float]]:
    stats = features.groupby("dimension")["auto"].agg(["mean", "std"])
    scale = stats["std"].where(stats["std"] > 1e-9, 1.0).fillna(1.0)
    return stats["mean"].to_dict(), scale.to_dict()


def _check_labels(labelled: pd.DataFrame, incumbent: str) -> None:
    if labelled.empty:
        raise ValueError("calibration: no human labels join the auto-scored responses")
    for dimension, rows in labelled.groupby("dimension"):
        if incumbent not in set(rows["model"]):
            raise ValueError(
                f"calibration: no labels for the incumbent {incumbent!r} on {dimension}")


def fit_calibration(
    features: pd.DataFrame,
    incumbent: str,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    seed: int = 0,
) -> Calibration:
    """Fit the calibration model on the labelled rows of ``features`` with nutpie."""
    labelled = features.dropna(subset=["human"])
    _check_labels(labelled, incumbent)
    center, scale = _standardisation(features)
    dims = sorted(labelled["dimension"].unique())
    regions = sorted(features["region"].unique())
    models = [incumbent] + sorted(set(features["model"]) - {incumbent})

    d = pd.Categorical(labelled["dimension"], categories=dims).codes
    r = pd.Categorical(labelled["region"], categories=regions).codes
    m = pd.Categorical(labelled["model"], categories=models).codes
    auto = ((labelled["auto"] - labelled["dimension"].map(center))
            / labelled["dimension"].map(scale)).to_numpy()
    # Priors on each dimension's own scale: wide enough to be uninformative there.
    spread = np.array([DIMENSIONS[x].high - DIMENSIONS[x].low for x in dims])
    middle = np.array([(DIMENSIONS[x].high + DIMENSIONS[x].low) / 2 for x in dims])

    coords = {"dimension": dims, "region": regions, "candidate": models[1:]}
    with pm.Model(coords=coords):
        intercept = pm.Normal("intercept", middle[:, None], spread[:, None],
                              dims=("dimension", "region"))
        slope = pm.Normal("slope", 0.0, spread, dims="dimension")
        mean_offset = pm.Normal("model_offset", 0.0, spread[:, None] / 2,
                                dims=("dimension", "candidate"))
        offset_sd = pm.HalfNormal("offset_sd", spread / 4, dims="dimension")
        z = pm.Normal("z", 0.0, 1.0, dims=("dimension", "region", "candidate"))
        offset = pm.Deterministic(
            "region_offset", mean_offset[:, None, :] + offset_sd[:, None, None] * z,
            dims=("dimension", "region", "candidate"),
        )
        sigma = pm.HalfNormal("sigma", spread / 2, dims="dimension")
        offsets = pm.math.concatenate([pm.math.zeros((len(dims), len(regions), 1)), offset], axis=2)
        mu = intercept[d, r] + slope[d] * auto + offsets[d, r, m]
        pm.Normal("human", mu, sigma[d], observed=labelled["human"].to_numpy())
        # offset_sd's funnel (few regions) gives a handful of divergences at nutpie's default
        # 0.8, which ones depending on the machine's floating point: smaller steps, as compare's
        # hierarchical fits take
        idata = pm.sample(
            draws=draws, tune=tune, chains=chains, random_seed=seed,
            nuts_sampler="nutpie", progressbar=False, target_accept=0.95,
        )
    _to_raw_scale(idata.posterior, dims, center, scale)
    counts = labelled.groupby("dimension").size().to_dict()
    divergences = int(idata.sample_stats["diverging"].sum())
    return Calibration(_long_draws(idata), _summary(idata, counts), divergences, idata)


def _to_raw_scale(posterior, dims: list[str], center: dict, scale: dict) -> None:
    """Express slope and intercept per unit of the raw automated score, so that stored draws
    apply to stored scores with nothing else to remember."""
    center_ = xr.DataArray([center[x] for x in dims], coords={"dimension": dims})
    scale_ = xr.DataArray([scale[x] for x in dims], coords={"dimension": dims})
    posterior["slope"] = posterior["slope"] / scale_
    posterior["intercept"] = posterior["intercept"] - posterior["slope"] * center_


def _levels(array) -> list[tuple[str, str | None, str | None, np.ndarray]]:
    """(dimension, region, model, values over (chain, draw)) for each cell of a posterior
    variable: region and model are the cell's coordinates, None where the variable has no
    such one (names are kept as they are: never joined into one string and split again)."""
    other = [dim for dim in array.dims if dim not in ("dimension", "chain", "draw")]
    cells = []
    for dimension in array.coords["dimension"].values:
        cell = array.sel(dimension=dimension)
        if not other:
            cells.append((str(dimension), None, None, cell.transpose("chain", "draw").values))
            continue
        flat = cell.stack(level=other).transpose("level", "chain", "draw")
        for i, key in enumerate(flat.coords["level"].values):
            named = dict(zip(other, key if isinstance(key, tuple) else (key,)))
            region = named.get("region")
            model = named.get("candidate")
            cells.append((str(dimension), None if region is None else str(region),
                          None if model is None else str(model), flat.values[i]))
    return cells


def _level(region: str | None, model: str | None) -> str:
    """The cell's coordinates for people to read (region, model, or region/model; '' =
    global): display only, never parsed; the region and model columns are the key."""
    return "/".join(name for name in (region, model) if name is not None)


PARAMETERS = ("intercept", "slope", "model_offset", "offset_sd", "region_offset", "sigma")


def _long_draws(idata) -> pd.DataFrame:
    frames = []
    for parameter in PARAMETERS:
        for dimension, region, model, values in _levels(idata.posterior[parameter]):
            flat = values.reshape(-1)
            frames.append(pd.DataFrame({
                "dimension": dimension, "parameter": parameter, "region": region,
                "model": model, "level": _level(region, model),
                "draw": np.arange(len(flat)), "value": flat,
            }))
    return pd.concat(frames, ignore_index=True)


def _summary(idata, n_labels: dict[str, int]) -> pd.DataFrame:
    """Each cell's posterior summary, computed from its own draws (as az.summary does, to two
    decimals), so that no name is looked up through a label built from names."""
    rows = []
    for parameter in PARAMETERS:
        for dimension, region, model, values in _levels(idata.posterior[parameter]):
            flat = values.reshape(-1)
            low, high = az.hdi(flat, hdi_prob=0.94)
            rows.append({
                "dimension": dimension, "parameter": parameter, "region": region,
                "model": model, "level": _level(region, model),
                "mean": round(float(flat.mean()), 2), "sd": round(float(flat.std(ddof=1)), 2),
                "hdi_low": round(float(low), 2), "hdi_high": round(float(high), 2),
                "r_hat": round(float(az.rhat(values)), 2),
                "ess_bulk": round(float(az.ess(values, method="bulk")), 2),
                "n_labels": n_labels.get(dimension, 0),
            })
    return pd.DataFrame(rows)


def delta_draws(features: pd.DataFrame, draws: pd.DataFrame, incumbent: str) -> pd.DataFrame:
    """Posterior draws of Δ = mean human score of each candidate minus the incumbent, per
    (dimension, region) and over all traffic (region None, regions weighted by their share
    of the dimension's requests). Only requests both models answered count, so the comparison
    stays paired."""
    frames = []
    for dimension, rows in features.groupby("dimension"):
        slope = _param(draws, dimension, "slope")
        if slope is None:
            continue  # no labels for this dimension: nothing is calibrated
        means = rows.pivot_table(
            index=["request_id", "region"], columns="model", values="auto"
        )
        for candidate in [c for c in means.columns if c != incumbent]:
            paired = means[[incumbent, candidate]].dropna()
            gap = ((paired[candidate] - paired[incumbent]).groupby(level="region")
                   .agg(["mean", "size"]))
            per_region = {
                region: slope * row["mean"]
                + _param(draws, dimension, "region_offset", region, candidate)
                for region, row in gap.iterrows()
            }
            weights = gap["size"] / gap["size"].sum()
            overall = sum(weights[r] * per_region[r] for r in gap.index)
            for region, values in [(None, overall), *per_region.items()]:
                frames.append(pd.DataFrame({
                    "candidate": candidate, "incumbent": incumbent, "dimension": dimension,
                    "region": region, "draw": np.arange(len(values)), "delta": values,
                }))
    return pd.concat(frames, ignore_index=True)


def _param(draws: pd.DataFrame, dimension: str, parameter: str, region: str | None = None,
           model: str | None = None) -> np.ndarray | None:
    """One cell's draws, found by its coordinates (None: the parameter has no such one)."""
    def matches(column, name):
        return draws[column].isna() if name is None else draws[column] == name
    rows = draws[(draws["dimension"] == dimension) & (draws["parameter"] == parameter)
                 & matches("region", region) & matches("model", model)]
    return rows.sort_values("draw")["value"].to_numpy() if len(rows) else None


def calibration_fits(summary: pd.DataFrame, deltas: pd.DataFrame,
                     divergences: int = 0) -> pd.DataFrame:
    """fit_diagnostics rows for Δ drawn from the calibration model: one fit for every
    dimension, so each (candidate, dimension) gets that dimension's r_hat and bulk ESS, and
    the fit's ``divergences`` (one sampler run for all dimensions). The summary keeps no tail
    ESS."""
    rows = []
    for (candidate, dimension), _ in deltas.groupby(["candidate", "dimension"]):
        stats = summary[summary["dimension"] == dimension]
        found = {"max_r_hat": float(stats["r_hat"].max()),
                 "min_ess_bulk": float(stats["ess_bulk"].min()), "min_ess_tail": None,
                 "divergences": divergences}
        rows.append({"candidate": candidate, "dimension": dimension, **found,
                     "failures": "; ".join(fit_failures(found)) or None})
    return pd.DataFrame(rows, columns=FIT_COLUMNS)


def fit_history(deltas: pd.DataFrame, fits: pd.DataFrame) -> pd.DataFrame:
    """The fit_history rows of one run: Δ's posterior summary per (candidate, dimension,
    region) from ``deltas`` (delta_draws' columns) beside its fit's diagnostics (``fits``,
    fit_diagnostics' columns)."""
    if deltas.empty:
        return pd.DataFrame(columns=["candidate", "dimension", "region", "delta_mean",
                                     "delta_sd", "delta_low", "delta_high", *FIT_COLUMNS[2:]])
    # dropna=False: region NULL is the all-traffic row, a group like any other
    summary = (deltas.groupby(["candidate", "dimension", "region"], dropna=False)["delta"]
               .agg(delta_mean="mean", delta_sd="std",
                    delta_low=lambda d: d.quantile(0.025), delta_high=lambda d: d.quantile(0.975))
               .reset_index())
    summary["region"] = summary["region"].astype(object).where(summary["region"].notna(), None)
    return summary.merge(fits, on=["candidate", "dimension"], how="left")
