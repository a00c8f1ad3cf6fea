"""population_posterior: Δ (candidate − incumbent) over all auto-scored traffic, per draw; every
fit behind it kept as NetCDF (artifacts `fits/<fit_id>/<fit_key>.nc`) and in tables."""

import json
from typing import Literal

import pandas as pd
from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from assets.auto_scores import auto_scores
from assets.calibration_drift import calibration_drift
from assets.features import load_features
from assets.human_labels import human_labels
from assets.metadata import table_metadata
from pipeline.data.fits import save_fit
from pipeline.data.warehouse import replace_tables
from pipeline.report.build import (
    calibration_figures,
    fit_markdown,
    fits_by_slice,
    markdown_figures,
)
from pipeline.stats import calibration as calibration_model
from pipeline.stats import compare, joint
from pipeline.stats.calibration import calibration_fits, delta_draws, fit_calibration, fit_history
from pipeline.stats.fits import Fit, data_hash, fit_key
from pipeline.stats.label_queue import design_weights
from pipeline.stats.paired_deltas import paired_delta_draws
from resources import Artifacts, ModelRegistry, Warehouse

# Dagster shows the asset stale when a model changes: its code version is the models'.
CODE_VERSION = ",".join([joint.MODEL_VERSION, *compare.MODEL_VERSIONS.values(),
                         calibration_model.MODEL_VERSION])


class PosteriorConfig(Config):
    method: Literal["paired", "calibration"] = Field("paired", description=(
        "paired: pipeline.compare per candidate and dimension (pairs the two models on each "
        "request, a metric bias per model and region from that region's labels). "
        "calibration: the seed paper's unpaired calibration (human ~ auto + model, by "
        "region), kept in calibration_summary and calibration_draws"))
    draws: int | None = Field(None, ge=1, description=(
        "draws per chain; unset: 1,000 for graded labels, 2,000 for 0/1 ones (their "
        "request-effect scale mixes slowly), 1,000 for the calibration. Raise it (with tune) "
        "when the fits_converged check fails on ESS"))
    tune: int = Field(1000, ge=0, description=(
        "tuning steps per chain before the draws; raise it when the fits_converged check "
        "fails on r_hat or divergences"))
    chains: int = Field(2, ge=2, description="chains per fit (r_hat compares them)")
    seed: int = Field(0, description="the sampler's seed (a pair fitted on its own adds its "
                                     "position)")


# After the drift check, whose blocking check stops it too: no posterior is drawn (or stored
# for BI) on a calibration that has drifted.
@asset(deps=[auto_scores, human_labels, calibration_drift], group_name="inference",
       kinds={"duckdb", "pymc"}, code_version=CODE_VERSION,
       metadata=table_metadata("delta_draws"),
       description="Posterior draws of Δ per candidate, dimension and region (table "
                   "`delta_draws`); every fit saved as NetCDF under the artifacts root "
                   "(`fits/<fit_id>/<fit_key>.nc`, table `fits`), its parameters summarised "
                   "(`fit_parameters`) and its diagnostics in `fit_diagnostics` and "
                   "`fit_history`. Not drawn when the drift check fails.")
def population_posterior(
    context: AssetExecutionContext, config: PosteriorConfig, models: ModelRegistry,
    warehouse: Warehouse, artifacts: Artifacts,
) -> MaterializeResult:
    with warehouse.connect() as conn:
        features = load_features(conn)
        queue = conn.execute("SELECT * FROM label_queue").df()  # the label-queue rounds
    metadata, kept = {"method": config.method}, {}
    if config.method == "paired":
        weights = design_weights(features, queue, models.incumbent)
        fit = paired_delta_draws(features, models.incumbent, draws=config.draws,
                                 tune=config.tune, chains=config.chains, seed=config.seed,
                                 weights=weights)
        deltas, fits, saved = fit.draws, fit.fits, fit.saved
        for (candidate, dimension), reason in fit.skipped.items():
            context.log.warning(f"{candidate!r} on {dimension}: not compared: {reason}")
        metadata.update(max_r_hat=float(fits["max_r_hat"].max()),
                        divergences=int(fits["divergences"].sum()),
                        skipped=[{"candidate": c, "dimension": d, "reason": reason}
                                 for (c, d), reason in fit.skipped.items()])
    else:
        deltas, fits, kept, saved = _calibration_deltas(features, models.incumbent, config)
    for row in fits.dropna(subset=["failures"]).itertuples():
        context.log.warning(f"{row.candidate!r} on {row.dimension}: the fit failed its diagnostics "
                            f"({row.failures}): no verdict is drawn from it; raise `tune` and "
                            "`draws` in this asset's config")
    fit_id, fitted_at = context.run_id, pd.Timestamp.now(tz="UTC")
    # The files first, then the rows that point at them: a row never names a missing file.
    stored = [_save(fit_id, fitted_at, one, models.incumbent, config, artifacts) for one in saved]
    records = _fit_rows(stored, fits, models.incumbent, config.method)
    history = fit_history(deltas, fits).assign(fit_id=fit_id, fitted_at=fitted_at,
                                               method=config.method)
    tables = {"delta_draws": deltas.assign(fit_id=fit_id),
              "fit_diagnostics": fits.assign(fit_id=fit_id),
              **{name: frame.assign(fit_id=fit_id) for name, frame in kept.items()}}
    with warehouse.connect() as conn:
        replace_tables(conn, tables, appended={
            "fit_history": history,
            "fits": records.assign(fit_id=fit_id, fitted_at=fitted_at),
            "fit_parameters": _parameter_rows(stored).assign(fit_id=fit_id)})
    for where in sorted({uri for _, uri in stored}):
        context.log.info(f"fit saved: {where}")
    overall = deltas[deltas["region"].isna()].groupby(["candidate", "dimension"])["delta"].mean()
    delta_mean: dict[str, dict[str, float]] = {}  # candidate -> dimension -> mean: no joined key
    for (candidate, dimension), value in overall.items():
        delta_mean.setdefault(candidate, {})[dimension] = round(float(value), 4)
    return MaterializeResult(metadata={
        **metadata,
        "fit_id": fit_id,
        "fits_saved": len(stored),
        "draws": int(deltas["draw"].nunique()),
        "delta_mean": delta_mean,
        "dagster/row_count": len(deltas),
        "calibration": MetadataValue.md(markdown_figures(
            calibration_figures(features, models.incumbent), "calibration")),
        "fits": MetadataValue.md(fit_markdown(fits_by_slice(saved))),
    })


def _save(fit_id: str, fitted_at, fit: Fit, incumbent: str, config: PosteriorConfig,
          artifacts: Artifacts) -> tuple[Fit, str]:
    """Write one fit's NetCDF, its provenance in the file's attributes; (fit, uri)."""
    dimensions = [fit.dimension] if fit.dimension is not None else fit.settings["dimensions"]
    attrs = {"fit_id": fit_id, "fit_key": fit.key, "fitted_at": fitted_at.isoformat(),
             "method": config.method, "dimensions": json.dumps(dimensions),
             "candidates": json.dumps(fit.candidates), "incumbent": incumbent,
             "statistical_model": fit.statistical_model, "code_version": fit.code_version,
             "data_hash": fit.data_hash, "config": json.dumps(fit.settings, sort_keys=True)}
    return fit, save_fit(artifacts.store(), fit.idata, attrs, fit_id, fit.key)


def _fit_rows(stored: list[tuple[Fit, str]], fits: pd.DataFrame, incumbent: str,
              method: str) -> pd.DataFrame:
    """The `fits` rows: one per (fit, candidate) with its file and its diagnostics."""
    rows = [{"fit_key": fit.key, "candidate": candidate, "incumbent": incumbent,
             "dimension": dimension, "method": method,
             "statistical_model": fit.statistical_model, "code_version": fit.code_version,
             "uri": uri, "config": json.dumps(fit.settings, sort_keys=True),
             "data_hash": fit.data_hash}
            for fit, uri in stored for candidate, dimension in _slices(fit, fits)]
    table = pd.DataFrame(rows, columns=["fit_key", "candidate", "incumbent", "dimension",
                                        "method", "statistical_model", "code_version", "uri",
                                        "config", "data_hash"])
    return table.merge(fits, on=["candidate", "dimension"], how="left")


def _slices(fit: Fit, fits: pd.DataFrame) -> list[tuple[str, str]]:
    """The (candidate, dimension) pairs whose Δ the fit gives: its candidates on its
    dimension; the calibration (dimension None) gives every one of ``fits``."""
    if fit.dimension is not None:
        return [(candidate, fit.dimension) for candidate in fit.candidates]
    return list(zip(fits["candidate"], fits["dimension"]))


def _parameter_rows(stored: list[tuple[Fit, str]]) -> pd.DataFrame:
    """The `fit_parameters` rows: each fit's parameters under each candidate it serves."""
    frames = [fit.parameters.assign(fit_key=fit.key, candidate=candidate,
                                    dimension=fit.dimension)
              for fit, _ in stored for candidate in fit.candidates if len(fit.parameters)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["fit_key", "candidate", "dimension"])


def _calibration_deltas(features: pd.DataFrame, incumbent: str, config: PosteriorConfig):
    """Method "calibration": fit the unpaired calibration and carry it over all traffic;
    returns the delta draws, the fit diagnostics, the calibration's own tables, and the one
    fit (every dimension and candidate) to keep."""
    fit = fit_calibration(features, incumbent, config.draws or 1000, config.tune,
                          config.chains, config.seed)
    deltas = delta_draws(features, fit.draws, incumbent)
    tables = {"calibration_summary": fit.summary.assign(fitted_at=pd.Timestamp.now(tz="UTC")),
              "calibration_draws": fit.draws}
    fits = calibration_fits(fit.summary, deltas, fit.divergences)
    dimensions = sorted(fits["dimension"].unique())
    settings = {"draws": config.draws or 1000, "tune": config.tune, "chains": config.chains,
                "seed": config.seed, "weighted": False, "dimensions": dimensions}
    # one sampler run for every dimension and candidate: one file
    kept = Fit(key=fit_key("calibration"), dimension=None,
               candidates=sorted(fits["candidate"].unique()), statistical_model="calibration",
               code_version=calibration_model.MODEL_VERSION, idata=fit.idata,
               data_hash=data_hash(features), settings=settings)
    return deltas, fits, tables, [kept]
