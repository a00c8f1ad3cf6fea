"""What is kept of every fit besides Δ: a summary of each of the model's own parameters, the
hash of the data it saw, and the key that names it within a run. Plain Python, no I/O: the
``population_posterior`` asset writes the fit (``pipeline.data.fits``) and these rows.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.stats.sampling import DIAGNOSED

HDI_PROB = 0.94
# The columns of a fit_parameters row that describe the parameter; a dimension of a saved
# fit that is none of these (a group other than region) has no column of its own.
PARAMETER_COORDS = ("region", "model", "metric", "cut_point")
PARAMETER_COLUMNS = ["parameter", *PARAMETER_COORDS, "mean", "sd", "hdi_low", "hdi_high",
                     "r_hat", "ess_bulk", "ess_tail"]


@dataclass
class Fit:
    """One sampler run: the fit behind the Δ of ``candidates`` on ``dimension`` (several
    candidates when the joint model fitted them together), with what is kept of it."""

    key: str  # names it within a run (``fits.fit_key``; its file's name): safe in a path
    dimension: str | None  # None: every dimension (the calibration model)
    candidates: list[str]
    statistical_model: str  # joint_gaussian | paired_gaussian | paired_bernoulli | ...
    code_version: str  # the model's version (compare.MODEL_VERSIONS, joint.MODEL_VERSION)
    idata: object  # arviz InferenceData, dimensions named (region, model, auto_metric)
    data_hash: str  # of the rows it saw (pipeline.stats.fits.data_hash)
    settings: dict  # draws per chain, tune, chains, seed, weighted
    # the model's own parameters, summarised (pipeline.stats.fits.PARAMETER_COLUMNS)
    parameters: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)


def fit_key(*parts) -> str:
    """A name for a fit within a run, safe in any path whatever the names in ``parts``
    (candidates, dimensions and regions are data): 16 hex digits of a sha256 of their JSON."""
    text = json.dumps([str(part) if not isinstance(part, list | tuple) else list(map(str, part))
                       for part in parts])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def data_hash(frame: pd.DataFrame) -> str:
    """sha256 of a fit's input rows, independent of their order and of the frame's index, so
    the same labels and scores give the same hash run after run."""
    columns = sorted(frame.columns)
    rows = frame[columns].sort_values(columns, kind="stable", na_position="last")
    digest = hashlib.sha256(json.dumps(columns).encode())
    digest.update(pd.util.hash_pandas_object(rows, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def parameter_summary(idata, owners: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per cell of each parameter in ``sampling.DIAGNOSED`` that the fit has: its
    coordinates (region, model, metric, cut point: None where the parameter has none),
    posterior mean, sd, 94 % HDI, r_hat, bulk and tail ESS. Cells fixed by construction (the
    incumbent's zero bias) and the zero metric slots (``unused_slot_*``) are left out.
    ``owners``: the model a parameter without a model dimension belongs to (in a pair fit the
    bias is the candidate's, the level ``a`` the incumbent's). Computed per cell on the
    posterior's own coordinates, never by parsing labels built from names."""
    import arviz as az

    owners = owners or {}
    posterior = idata.posterior
    names = [name for name in DIAGNOSED if name in posterior]
    if not names:
        return pd.DataFrame(columns=PARAMETER_COLUMNS)
    with warnings.catch_warnings():  # constant cells divide by a zero variance: dropped below
        warnings.simplefilter("ignore", RuntimeWarning)
        stats = {"mean": posterior[names].mean(("chain", "draw")),
                 "sd": posterior[names].std(("chain", "draw"), ddof=1),
                 "r_hat": az.rhat(idata, var_names=names),
                 "ess_bulk": az.ess(idata, var_names=names, method="bulk"),
                 "ess_tail": az.ess(idata, var_names=names, method="tail")}
        hdi = az.hdi(idata, var_names=names, hdi_prob=HDI_PROB)
    frames = [_cells(name, stats, hdi, owners.get(name)) for name in names]
    table = pd.concat(frames, ignore_index=True)
    kept = (table["sd"] > 0) & ~table["metric"].astype(str).str.startswith("unused_slot_")
    return table[kept].reset_index(drop=True)[PARAMETER_COLUMNS]


def _cells(name: str, stats: dict, hdi, owner: str | None) -> pd.DataFrame:
    """The rows of parameter ``name``: one per cell, its coordinates as columns."""
    def series(values) -> pd.Series:
        return values.to_series() if values.ndim else pd.Series([float(values)])

    frame = pd.DataFrame({key: series(values[name]) for key, values in stats.items()})
    frame["hdi_low"] = series(hdi[name].sel(hdi="lower"))
    frame["hdi_high"] = series(hdi[name].sel(hdi="higher"))
    named = any(level is not None for level in frame.index.names)
    frame = (frame.reset_index(drop=not named).rename(columns={"auto_metric": "metric"})
             .drop(columns="group", errors="ignore"))
    frame.insert(0, "parameter", name)
    for coord in ("region", "model", "metric"):
        if coord not in frame:
            frame[coord] = owner if coord == "model" else None
        frame[coord] = frame[coord].astype(object).where(frame[coord].notna(), None)
    frame["cut_point"] = (frame["cut_point"] if "cut_point" in frame else pd.NA)
    frame["cut_point"] = frame["cut_point"].astype("Int64")
    return frame.replace({np.inf: np.nan})
