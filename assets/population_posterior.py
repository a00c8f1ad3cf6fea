"""population_posterior: Δ (candidate − incumbent) over all auto-scored traffic, per draw."""

from typing import Literal

import pandas as pd
from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset

from assets.auto_scores import auto_scores
from assets.calibration_drift import calibration_drift
from assets.features import load_features
from assets.human_labels import human_labels
from pipeline.data.warehouse import replace_tables
from pipeline.report.build import calibration_figures, fit_markdown, markdown_figures
from pipeline.stats.calibration import calibration_fits, delta_draws, fit_calibration, fit_history
from pipeline.stats.label_queue import design_weights
from pipeline.stats.paired_deltas import paired_delta_draws
from resources import ModelRegistry, Warehouse


class PosteriorConfig(Config):
    # "paired": pipeline.compare per candidate and dimension (pairs the two models on each
    # request, a metric bias per model and region from that region's labels). "calibration":
    # the seed paper's unpaired calibration (human ~ auto + model, by region;
    # pipeline.stats.calibration), fitted here and kept in `calibration_summary` and
    # `calibration_draws`; only this method fits it.
    method: Literal["paired", "calibration"] = "paired"
    # draws per chain; unset: 1,000 for graded labels, 2,000 for 0/1 ones (see compare), and
    # 1,000 for the calibration
    draws: int | None = None
    tune: int = 1000
    chains: int = 2
    seed: int = 0


# After the drift check, whose blocking check stops it too: no posterior is drawn (or stored
# for BI) on a calibration that has drifted.
@asset(deps=[auto_scores, human_labels, calibration_drift], group_name="inference",
       description="Posterior draws of Δ per candidate, dimension and region (table "
                   "`delta_draws`), and the diagnostics of each fit (`fit_diagnostics`); not "
                   "drawn when the drift check fails.")
def population_posterior(
    context: AssetExecutionContext, config: PosteriorConfig, models: ModelRegistry,
    warehouse: Warehouse,
) -> MaterializeResult:
    with warehouse.connect() as conn:
        features = load_features(conn)
        queue = conn.execute("SELECT * FROM label_queue").df()  # the label-queue rounds
    metadata, kept, idata = {"method": config.method}, {}, {}
    if config.method == "paired":
        weights = design_weights(features, queue, models.incumbent)
        fit = paired_delta_draws(features, models.incumbent, draws=config.draws,
                                 tune=config.tune, chains=config.chains, seed=config.seed,
                                 weights=weights)
        deltas, fits, idata = fit.draws, fit.fits, fit.idata
        for (candidate, dimension), reason in fit.skipped.items():
            context.log.warning(f"{candidate!r} on {dimension}: not compared: {reason}")
        metadata.update(max_r_hat=float(fits["max_r_hat"].max()),
                        divergences=int(fits["divergences"].sum()),
                        skipped=[{"candidate": c, "dimension": d, "reason": reason}
                                 for (c, d), reason in fit.skipped.items()])
    else:
        deltas, fits, kept = _calibration_deltas(features, models.incumbent, config)
    for row in fits.dropna(subset=["failures"]).itertuples():
        context.log.warning(f"{row.candidate!r} on {row.dimension}: the fit failed its diagnostics "
                            f"({row.failures}): no verdict is drawn from it; raise `tune` and "
                            "`draws` in this asset's config")
    history = fit_history(deltas, fits).assign(
        fit_id=context.run_id, fitted_at=pd.Timestamp.now(tz="UTC"), method=config.method)
    with warehouse.connect() as conn:
        replace_tables(conn, {"delta_draws": deltas, "fit_diagnostics": fits, **kept},
                       appended={"fit_history": history})
    overall = deltas[deltas["region"].isna()].groupby(["candidate", "dimension"])["delta"].mean()
    delta_mean: dict[str, dict[str, float]] = {}  # candidate -> dimension -> mean: no joined key
    for (candidate, dimension), value in overall.items():
        delta_mean.setdefault(candidate, {})[dimension] = round(float(value), 4)
    return MaterializeResult(metadata={
        **metadata,
        "draws": int(deltas["draw"].nunique()),
        "delta_mean": delta_mean,
        "calibration": MetadataValue.md(markdown_figures(
            calibration_figures(features, models.incumbent), "calibration")),
        **({"fits": MetadataValue.md(fit_markdown(idata))} if idata else {}),
    })


def _calibration_deltas(features: pd.DataFrame, incumbent: str, config: PosteriorConfig):
    """Method "calibration": fit the unpaired calibration and carry it over all traffic;
    returns the delta draws, the fit diagnostics, and the calibration's own tables."""
    fit = fit_calibration(features, incumbent, config.draws or 1000, config.tune,
                          config.chains, config.seed)
    deltas = delta_draws(features, fit.draws, incumbent)
    tables = {"calibration_summary": fit.summary.assign(fitted_at=pd.Timestamp.now(tz="UTC")),
              "calibration_draws": fit.draws}
    return deltas, calibration_fits(fit.summary, deltas, fit.divergences), tables
