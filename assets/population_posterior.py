"""population_posterior: Δ (candidate − incumbent) over all auto-scored traffic, per draw."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from pipeline.calibration import delta_draws
from pipeline.warehouse import replace_rows
from resources import ModelRegistry, Warehouse

from assets.calibration_fit import calibration_fit, load_features


@asset(deps=[calibration_fit], group_name="inference",
       description="Posterior draws of Δ per candidate, dimension and region (table `delta_draws`).")
def population_posterior(
    context: AssetExecutionContext, models: ModelRegistry, warehouse: Warehouse
) -> MaterializeResult:
    with warehouse.connect() as conn:
        features = load_features(conn)
        draws = conn.execute("SELECT * FROM calibration_draws").df()
    deltas = delta_draws(features, draws, models.incumbent)
    with warehouse.connect() as conn:
        replace_rows(conn, "delta_draws", deltas)
    overall = deltas[deltas["region"] == "ALL"].groupby(["candidate", "dimension"])["delta"].mean()
    return MaterializeResult(metadata={
        "draws": int(deltas["draw"].nunique()),
        "delta_mean": {f"{c}/{d}": round(float(v), 4) for (c, d), v in overall.items()},
    })
