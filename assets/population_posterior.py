"""population_posterior: Δ (candidate − incumbent) over all auto-scored traffic, per draw."""

from typing import Literal

from dagster import AssetExecutionContext, Config, MaterializeResult, asset

from pipeline.stats.calibration import delta_draws
from pipeline.stats.paired_deltas import paired_delta_draws
from pipeline.data.warehouse import replace_rows
from resources import ModelRegistry, Warehouse

from assets.calibration_fit import calibration_fit, load_features


class PosteriorConfig(Config):
    # "paired": pipeline.compare per candidate and dimension (pairs the two models on each
    # request, a per-model metric bias pooled over regions). "calibration": the joint
    # calibration model of calibration_fit (the seed paper's human ~ auto + model, by region).
    method: Literal["paired", "calibration"] = "paired"
    draws: int = 1000
    tune: int = 1000
    chains: int = 2
    seed: int = 0


@asset(deps=[calibration_fit], group_name="inference",
       description="Posterior draws of Δ per candidate, dimension and region (table `delta_draws`).")
def population_posterior(
    context: AssetExecutionContext, config: PosteriorConfig, models: ModelRegistry,
    warehouse: Warehouse,
) -> MaterializeResult:
    with warehouse.connect() as conn:
        features = load_features(conn)
        calibration = conn.execute("SELECT * FROM calibration_draws").df()
    metadata = {"method": config.method}
    if config.method == "paired":
        fit = paired_delta_draws(features, models.incumbent, draws=config.draws,
                                 tune=config.tune, chains=config.chains, seed=config.seed)
        deltas = fit.draws
        for key, reason in fit.skipped.items():
            context.log.warning(f"{key}: not compared: {reason}")
        worst = max((d["max_r_hat"] for d in fit.diagnostics.values()), default=float("nan"))
        divergences = sum(d["divergences"] for d in fit.diagnostics.values())
        if worst > 1.01 or divergences:
            context.log.warning(f"check the fit: max r_hat {worst:.3f}, "
                                f"{divergences} divergent transitions")
        metadata.update(max_r_hat=worst, divergences=divergences, skipped=fit.skipped)
    else:
        deltas = delta_draws(features, calibration, models.incumbent)
    with warehouse.connect() as conn:
        replace_rows(conn, "delta_draws", deltas)
    overall = deltas[deltas["region"] == "ALL"].groupby(["candidate", "dimension"])["delta"].mean()
    return MaterializeResult(metadata={
        **metadata,
        "draws": int(deltas["draw"].nunique()),
        "delta_mean": {f"{c}/{d}": round(float(v), 4) for (c, d), v in overall.items()},
    })
