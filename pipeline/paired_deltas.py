"""Δ per candidate, dimension and region from the paired comparison model (``pipeline.compare``)
over every auto-scored request, in the layout of the ``delta_draws`` table.

Plain Python (no Dagster): the ``population_posterior`` asset calls it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.compare import compare


@dataclass
class PairedDeltas:
    draws: pd.DataFrame  # candidate, incumbent, dimension, region, draw, delta
    diagnostics: dict = field(default_factory=dict)  # "candidate/dimension" -> compare's
    skipped: dict = field(default_factory=dict)  # "candidate/dimension" -> why it was not fitted


def paired_delta_draws(features: pd.DataFrame, incumbent: str, *, draws: int = 1000,
                       tune: int = 1000, chains: int = 2, seed: int = 0) -> PairedDeltas:
    """Posterior draws of Δ for every candidate and dimension of ``features`` (the rows of
    ``pipeline.calibration.build_features``: request, model, region, dimension, auto, human),
    per region and over all traffic (region ``ALL``, regions weighted by their share of the
    requests both models answered). A (candidate, dimension) whose labels cannot support the
    comparison (none, or one model's only) is skipped with the reason."""
    frames, diagnostics, skipped = [], {}, {}
    candidates = sorted(m for m in features["model"].unique() if m != incumbent)
    for dimension, rows in features.groupby("dimension", sort=True):
        for offset, candidate in enumerate(candidates):
            key = f"{candidate}/{dimension}"
            pair = rows[rows["model"].isin([incumbent, candidate])]
            try:
                result = compare(pair, incumbent, candidate, human_col="human",
                                 auto_cols=("auto",), item_col="request_id",
                                 model_col="model", group_col="region",
                                 seed=seed + offset, draws=draws, tune=tune, chains=chains)
            except ValueError as error:
                skipped[key] = str(error)
                continue
            diagnostics[key] = result.diagnostics
            per_region = {"ALL": result.draws, **result.group_draws}
            for region, values in per_region.items():
                frames.append(pd.DataFrame({
                    "candidate": candidate, "incumbent": incumbent, "dimension": dimension,
                    "region": region, "draw": np.arange(len(values)), "delta": values,
                }))
    columns = ["candidate", "incumbent", "dimension", "region", "draw", "delta"]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    return PairedDeltas(table[columns], diagnostics, skipped)
