"""Δ per candidate, dimension and region from the paired comparison models (``pipeline.compare``)
over every auto-scored request, in the layout of the ``delta_draws`` table.

Plain Python (no Dagster): the ``population_posterior`` asset calls it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.stats.compare import check_pair, compare_many
from pipeline.stats.sampling import FIT_COLUMNS


@dataclass
class PairedDeltas:
    draws: pd.DataFrame  # candidate, incumbent, dimension, region, draw, delta
    # one row per (candidate, dimension), the columns of the fit_diagnostics table
    fits: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=FIT_COLUMNS))
    skipped: dict = field(default_factory=dict)  # (candidate, dimension) -> why it was not fitted
    # (candidate, dimension) -> the fit's InferenceData (candidates of one joint fit share it)
    idata: dict = field(default_factory=dict, repr=False)


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
    frames, fits, skipped, idata = [], [], {}, {}
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
        plain = [c for c in usable if c not in weighted]
        if plain:
            results += compare_many(rows, incumbent, plain, seed=seed, draws=draws, tune=tune,
                                    chains=chains, **options).comparisons
        for number, (candidate, by_request) in enumerate(weighted.items(), start=1):
            pair = rows[rows["model"].isin([incumbent, candidate])]
            pair = pair.assign(weight=pair["request_id"].map(by_request).fillna(1.0))
            results += compare_many(pair, incumbent, [candidate], seed=seed + number,
                                    draws=draws, tune=tune, chains=chains,
                                    weight_col="weight", **options).comparisons
        for result in results:
            fits.append(_fit_row(result.candidate, dimension, result.diagnostics))
            idata[(result.candidate, dimension)] = result.idata
            # region None: all traffic (NULL in delta_draws), never a region's name
            for region, values in [(None, result.draws), *result.group_draws.items()]:
                frames.append(pd.DataFrame({
                    "candidate": result.candidate, "incumbent": incumbent,
                    "dimension": dimension, "region": region,
                    "draw": np.arange(len(values)), "delta": values,
                }))
    columns = ["candidate", "incumbent", "dimension", "region", "draw", "delta"]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    return PairedDeltas(table[columns], pd.DataFrame(fits, columns=FIT_COLUMNS), skipped, idata)


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
