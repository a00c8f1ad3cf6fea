"""migration_decision: migrate, hold, or how many more labels, per candidate and dimension."""

import dataclasses

import pandas as pd
from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset

from assets.calibration_drift import calibration_drift
from assets.population_posterior import population_posterior
from pipeline.data.markdown import markdown_table
from pipeline.data.warehouse import insert_frame, read_query
from pipeline.report.build import delta_figures, markdown_figures
from pipeline.stats.decision import decide
from resources import ModelRegistry, Warehouse


class DecisionConfig(Config):
    # Non-inferiority margin per guarded dimension, on the dimension's human scale
    # (0 = the candidate must be better). Dimensions not listed are reported, not guarded.
    margins: dict[str, float] = {"correctness": 0.1, "refusal": 0.02, "style": 0.1}
    prob: float = 0.95


def decision_table(deltas: pd.DataFrame, n_labels: dict[tuple[str, str], int],
                   requests: dict[tuple[str, str, str], tuple[int, int]],
                   config: DecisionConfig, failed_fits: set[tuple[str, str]]) -> pd.DataFrame:
    """A decision per (candidate, dimension, region); ``fit_failed`` for every slice of a
    (candidate, dimension) in ``failed_fits``. ``n_labels``: label rows per (dimension,
    region); ``requests``: (labelled, unlabelled) requests per (candidate, dimension, region),
    from which the label plan projects."""
    rows = []
    keys = ["candidate", "incumbent", "dimension", "region"]
    # dropna=False: region NULL (None) is the all-traffic slice, decided like the others
    for (candidate, incumbent, dimension, region), group in deltas.groupby(keys, dropna=False):
        region = None if pd.isna(region) else region
        if dimension not in config.margins:
            continue
        margin = config.margins[dimension]
        done, open_ = requests.get((candidate, dimension, region), (0, 0))
        verdict = decide(group["delta"].to_numpy(), margin, config.prob, done,
                         fit_ok=(candidate, dimension) not in failed_fits, n_unlabelled=open_)
        rows.append({"candidate": candidate, "incumbent": incumbent, "dimension": dimension,
                     "region": region, **dataclasses.asdict(verdict), "prob": config.prob,
                     "margin": margin, "n_labels": n_labels.get((dimension, region), 0),
                     "labelled_requests": done, "unlabelled_requests": open_})
    return pd.DataFrame(rows)


# Not materialized when calibration_drift's blocking check fails: no verdict on a drifted
# calibration.
@asset(deps=[population_posterior, calibration_drift], group_name="inference",
       description="Decision per candidate, dimension and region (table `decisions`, view "
                   "`v_migration_verdict`).")
def migration_decision(
    context: AssetExecutionContext, config: DecisionConfig, models: ModelRegistry,
    warehouse: Warehouse,
) -> MaterializeResult:
    with warehouse.connect() as conn:
        deltas = conn.execute("SELECT * FROM delta_draws").df()
        n_labels = {(d, r): n for d, r, n in conn.execute(read_query("label_rows")).fetchall()}
        requests = {(c, d, r): (done, open_) for c, d, r, done, open_ in conn.execute(
            read_query("request_counts"), {"incumbent": models.incumbent}).fetchall()}
        failed_fits = set(conn.execute(read_query("failed_fits")).fetchall())
    table = decision_table(deltas, n_labels, requests, config, failed_fits)
    if table.empty:
        context.log.warning("no posterior draws of Δ (delta_draws is empty): nothing to decide; "
                            "materialize population_posterior first")
        return MaterializeResult(metadata={"verdict": {}})
    for candidate, dimension in sorted(failed_fits):
        context.log.error(f"{candidate!r} on {dimension}: fit_failed, no verdict written (see "
                          "fit_diagnostics; raise population_posterior's tune and draws)")
    table["fitted_at"] = pd.Timestamp.now(tz="UTC")
    with warehouse.connect() as conn:
        insert_frame(conn, "decisions", table)
        verdict = conn.execute("SELECT * FROM v_migration_verdict ORDER BY candidate").df()
    overall = table[table["region"].isna()].drop(columns=["region", "fitted_at"])
    context.log.info("verdict:\n" + verdict.to_string(index=False))
    verdicts = {r.candidate: r.verdict for r in verdict.itertuples()}
    return MaterializeResult(metadata={
        "verdict": verdicts,
        "decisions": MetadataValue.md(markdown_table(overall)),
        "posterior": MetadataValue.md(markdown_figures(
            delta_figures(deltas, table, verdicts), "posterior of Δ")),
    })
