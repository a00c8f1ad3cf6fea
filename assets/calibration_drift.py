"""calibration_drift: has the automated scores' relation to human judgment changed since the
reference labels? A blocking check keeps a drifted calibration from reaching a decision."""

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from assets.auto_scores import auto_scores
from assets.features import load_features
from assets.human_labels import human_labels
from assets.metadata import table_metadata
from pipeline.data.markdown import markdown_table
from pipeline.data.warehouse import insert_frame, read_query, transaction
from pipeline.stats.drift import MONITOR_VERSION
from pipeline.stats.drift_slices import describe_alarm, drift_by_slice
from resources import ModelRegistry, Warehouse

CHECK = "calibration_holds"


class DriftConfig(Config):
    alpha: float = Field(0.05, gt=0, lt=1, description=(
        "with no drift anywhere, the chance that any slice ever alarms (split over the "
        "candidate x dimension slices, all traffic and by region)"))
    reference_end: str | None = Field(None, description=(
        "ISO time: labels up to it are the reference the calibration rests on, later ones the "
        "stream; unset: the earlier half of each slice's labels"))
    seed: int = Field(0, description="order of equal-time labels and tie-breaking of equal "
                                     "scores; the guarantee holds for every seed")


@asset(deps=[auto_scores, human_labels], group_name="labels", kinds={"duckdb"},
       code_version=MONITOR_VERSION, metadata=table_metadata("drift_status"),
       check_specs=[AssetCheckSpec(CHECK, asset="calibration_drift", blocking=True,
                                   description="No candidate x dimension x region has drifted "
                                               "(anytime-valid monitor); blocks the decision")],
       description="Drift of the calibration per candidate, dimension and region (tables "
                   "`drift_status`, `drift_statistics`, appended; view `v_drift_status`).")
def calibration_drift(context: AssetExecutionContext, config: DriftConfig,
                      models: ModelRegistry, warehouse: Warehouse):
    with warehouse.connect() as conn:
        features = load_features(conn)
        label_times = conn.execute(read_query("label_times")).df()
        restarts = {(c, d): t for c, d, t in conn.execute(
            "SELECT candidate, dimension, restart_at FROM v_drift_restarts").fetchall()}
    reference_end = pd.Timestamp(config.reference_end) if config.reference_end else None
    status, statistics, skipped = drift_by_slice(features, label_times, models.incumbent,
                                                 config.alpha, reference_end, config.seed,
                                                 restarts)
    for (candidate, dimension), reason in skipped.items():
        context.log.warning(f"{candidate!r} on {dimension}: drift not monitored: {reason}")
    checked_at = pd.Timestamp.now(tz="UTC")
    with warehouse.connect() as conn, transaction(conn):
        insert_frame(conn, "drift_status", status.assign(checked_at=checked_at))
        insert_frame(conn, "drift_statistics", statistics.assign(checked_at=checked_at))
    alarms = [describe_alarm(row) for row in status[status["alarm"]].itertuples()]
    for alarm in alarms:
        context.log.error(alarm)
    yield MaterializeResult(metadata={
        "slices": int(status["region"].isna().sum()), "alarms": len(alarms),
        "skipped": [{"candidate": c, "dimension": d, "reason": reason}
                    for (c, d), reason in skipped.items()],
        "dagster/row_count": len(status),
        "status": MetadataValue.md(markdown_table(
            status[status["region"].isna()][["candidate", "dimension", "alarm", "alarm_at",
                                              "drifted", "n_reference", "n_stream"]])
            if len(status) else "nothing to monitor")})
    yield AssetCheckResult(
        check_name=CHECK, passed=not alarms,
        description=("; ".join(alarms) + ". No decision is written on a drifted calibration: "
                     "look at the labels since the alarm (a candidate update, a new annotator "
                     "pool, a shift in traffic), then refit on the labels after the change by "
                     "setting calibration_drift's reference_end to the alarm time")
        if alarms else f"no drift in {int(status['region'].isna().sum())} slices",
        metadata={"alpha": config.alpha, "alarms": len(alarms)})
