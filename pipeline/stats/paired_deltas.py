"""Δ per candidate, dimension and region from the paired comparison models (``pipeline.compare``)
over every auto-scored request, in the layout of the ``delta_draws`` table.

Plain Python (no Dagster): the ``population_posterior`` asset calls it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.stats.calibration import SIGNALS
from pipeline.stats.compare import check_pair, compare_many
from pipeline.stats.fits import Fit, data_hash, fit_key, parameter_summary
from pipeline.stats.sampling import FIT_COLUMNS


@dataclass
class PairedDeltas:
    draws: pd.DataFrame  # candidate, incumbent, dimension, region, draw, delta
    # one row per (candidate, dimension), the columns of the fit_diagnostics table
    fits: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=FIT_COLUMNS))
    skipped: dict = field(default_factory=dict)  # (candidate, dimension) -> why it was not fitted
    # every sampler run, to be kept (population_posterior saves each as NetCDF)
    saved: list[Fit] = field(default_factory=list)


def paired_delta_draws(features: pd.DataFrame, incumbent: str, *, draws: int | None = None,
                       tune: int = 1000, chains: int = 2, seed: int = 0,
                       weights: pd.DataFrame | None = None) -> PairedDeltas:
    """Posterior draws of Δ for every candidate and dimension of ``features`` (the rows of
    ``pipeline.stats.calibration.build_features``: request, model, region, dimension, auto, auto_2,
    human; ``auto_2`` is used as a second metric where every row of the dimension has it),
    per region and over all traffic (region ``ALL``, regions weighted by their share of the
    requests both models answered). The candidates of a dimension are fitted together
    (``compare_many``: the joint model for continuous labels, a fit per pair for 0/1
    ones). A (candidate, dimension) whose labels cannot support the comparison (none, or
    one model's only) is skipped with the reason.

    ``weights`` (candidate, dimension, request_id, weight; ``label_queue.design_weights``):
    the design weights of labels drawn unequally. A (candidate, dimension) that has them is
    fitted on its own with them (``compare(..., weight_col=...)``)."""
    frames, fits, skipped, saved = [], [], {}, []
    candidates = sorted(m for m in features["model"].unique() if m != incumbent)
    options = dict(human_col="human", item_col="request_id", model_col="model",
                   group_col="region")
    for dimension, rows in features.groupby("dimension", sort=True):
        options["auto_cols"] = signals(rows)
        usable = []
        for candidate in candidates:
            try:  # the labels must support this pair before it joins the joint fit
                check_pair(rows, incumbent, candidate, **options)
                usable.append(candidate)
            except ValueError as error:
                skipped[(candidate, dimension)] = str(error)
        if not usable:
            continue
        weighted = _weighted_candidates(weights, dimension, usable)
        results = []
        sampler = dict(draws=draws, tune=tune, chains=chains)
        plain = [c for c in usable if c not in weighted]
        if plain:
            fitted = compare_many(rows, incumbent, plain, seed=seed, **sampler,
                                  **options).comparisons
            saved += _kept_fits(rows, incumbent, dimension, fitted, seed, sampler, False)
            results += fitted
        for number, (candidate, by_request) in enumerate(weighted.items(), start=1):
            pair = rows[rows["model"].isin([incumbent, candidate])]
            pair = pair.assign(weight=pair["request_id"].map(by_request).fillna(1.0))
            fitted = compare_many(pair, incumbent, [candidate], seed=seed + number, **sampler,
                                  weight_col="weight", **options).comparisons
            saved += _kept_fits(pair, incumbent, dimension, fitted, seed + number, sampler,
                                True)
            results += fitted
        for result in results:
            fits.append(_fit_row(result.candidate, dimension, result.diagnostics))
            # region None: all traffic (NULL in delta_draws), never a region's name
            for region, values in [(None, result.draws), *result.group_draws.items()]:
                frames.append(pd.DataFrame({
                    "candidate": result.candidate, "incumbent": incumbent,
                    "dimension": dimension, "region": region,
                    "draw": np.arange(len(values)), "delta": values,
                }))
    columns = ["candidate", "incumbent", "dimension", "region", "draw", "delta"]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    return PairedDeltas(table[columns], pd.DataFrame(fits, columns=FIT_COLUMNS), skipped,
                        saved)


def _kept_fits(rows: pd.DataFrame, incumbent: str, dimension: str, comparisons, seed: int,
               sampler: dict, weighted: bool) -> list[Fit]:
    """The sampler runs behind ``comparisons`` (one compare_many call on ``rows``): one for
    a joint fit of several candidates, else one per candidate (each pair fitted on its own
    with seed + its position, as compare_many does)."""
    by_run: dict[int, list] = {}
    for comparison in comparisons:
        by_run.setdefault(id(comparison.idata), []).append(comparison)
    kept = []
    for position, group in enumerate(by_run.values()):
        first = group[0]
        names = [c.candidate for c in group]
        models = rows[rows["model"].isin([incumbent, *names])]
        settings = {**sampler, "draws": int(first.idata.posterior.sizes["draw"]),
                    "seed": seed + (0 if len(group) > 1 else position), "weighted": weighted}
        _name_signals(first.idata, dimension)
        owners = {} if len(group) > 1 else {"bias": first.candidate, "gamma": first.candidate,
                                            "a": incumbent}
        kept.append(Fit(
            key=fit_key("paired", dimension, sorted(names), weighted),
            dimension=dimension, candidates=names, statistical_model=first.statistical_model,
            code_version=first.code_version, idata=first.idata, data_hash=data_hash(models),
            settings=settings, parameters=parameter_summary(first.idata, owners)))
    return kept


def _weighted_candidates(weights: pd.DataFrame | None, dimension: str,
                         candidates: list[str]) -> dict[str, pd.Series]:
    """candidate -> request_id -> design weight, for the candidates with weights here."""
    if weights is None or weights.empty:
        return {}
    here = weights[weights["dimension"] == dimension]
    return {candidate: here[here["candidate"] == candidate].set_index("request_id")["weight"]
            for candidate in candidates if (here["candidate"] == candidate).any()}


def _fit_row(candidate: str, dimension: str, diagnostics: dict) -> dict:
    """A fit_diagnostics row; ``failures`` joined for the table, None when the fit passed."""
    return {"candidate": candidate, "dimension": dimension,
            **{key: diagnostics[key] for key in FIT_COLUMNS[2:6]},
            "failures": "; ".join(diagnostics["failures"]) or None}


def signals(rows: pd.DataFrame) -> tuple[str, ...]:
    """The automated columns to calibrate a dimension on: ``auto``, and ``auto_2`` where
    every row has it (compare needs every metric on every row)."""
    has_second = "auto_2" in rows and rows["auto_2"].notna().all()
    return ("auto", "auto_2") if has_second else ("auto",)


def _name_signals(idata, dimension: str) -> None:
    """The metric coordinates by the scores' names (rouge_l_f, ...) instead of the feature
    columns' (auto, auto_2), in place."""
    names = SIGNALS.get(dimension, {})
    for group in ("posterior", "warmup_posterior"):
        if group in idata.groups() and "auto_metric" in idata[group].coords:
            found = idata[group]
            renamed = [names.get(str(m), str(m)) for m in found["auto_metric"].values]
            setattr(idata, group, found.assign_coords(auto_metric=renamed))
