"""calibration_fit: the posterior of how automated scores map to human judgment."""

import pandas as pd
from dagster import AssetExecutionContext, Config, MaterializeResult, asset

from assets.auto_scores import auto_scores
from assets.human_labels import human_labels
from pipeline.data.warehouse import replace_rows
from pipeline.stats.calibration import build_features, fit_calibration
from resources import ModelRegistry, Warehouse


class CalibrationConfig(Config):
    draws: int = 1000
    tune: int = 1000
    chains: int = 2
    seed: int = 0


def load_features(conn):
    """The calibration's input rows, as the warehouse holds them now: the answers of record,
    their scores, and the labels that judged those very texts (after a drift alarm, only the
    candidate's labels since the change: v_fit_labels)."""
    return build_features(
        conn.execute("SELECT * FROM traffic").df(),
        conn.execute("SELECT * FROM v_auto_scores_wide").df(),
        conn.execute("SELECT * FROM v_fit_labels").df(),
    )


@asset(deps=[auto_scores, human_labels], group_name="inference",
       description="Calibration posterior (tables `calibration_summary`, `calibration_draws`).")
def calibration_fit(
    context: AssetExecutionContext, config: CalibrationConfig, models: ModelRegistry,
    warehouse: Warehouse,
) -> MaterializeResult:
    with warehouse.connect() as conn:
        features = load_features(conn)
    fit = fit_calibration(features, models.incumbent, config.draws, config.tune,
                          config.chains, config.seed)
    fitted_at = pd.Timestamp.now(tz="UTC")
    with warehouse.connect() as conn:
        replace_rows(conn, "calibration_summary", fit.summary.assign(fitted_at=fitted_at))
        replace_rows(conn, "calibration_draws", fit.draws)
    worst_r_hat = float(fit.summary["r_hat"].max())
    if worst_r_hat > 1.01 or fit.divergences:
        context.log.warning(f"check the calibration: max r_hat {worst_r_hat:.3f}, "
                            f"{fit.divergences} divergent transitions")
    slopes = fit.summary[fit.summary["parameter"] == "slope"]
    return MaterializeResult(metadata={
        "max_r_hat": worst_r_hat,
        "min_ess_bulk": float(fit.summary["ess_bulk"].min()),
        "divergences": fit.divergences,
        "labels_by_dimension": fit.summary.groupby("dimension")["n_labels"].first().to_dict(),
        "slope_by_dimension": {r.dimension: round(float(r.mean), 4) for r in slopes.itertuples()},
    })
