"""migration_decision: migrate, hold, or how many more labels, per candidate and dimension. Its
blocking check `fits_converged` fails the run when a decision rests on a fit that failed its
sampler diagnostics (those decisions are written as `fit_failed`, never as a verdict)."""

import dataclasses
import json

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

from assets.calibration_drift import calibration_drift
from assets.metadata import table_metadata
from assets.population_posterior import CODE_VERSION as POSTERIOR_VERSION
from assets.population_posterior import population_posterior
from pipeline.data.markdown import markdown_table
from pipeline.data.warehouse import insert_frame, read_query
from pipeline.report.build import delta_figures, markdown_figures
from pipeline.stats.decision import RULE_VERSION, decide
from pipeline.stats.sampling import MAX_R_HAT, MIN_ESS
from resources import ModelRegistry, Warehouse

CHECK = "fits_converged"


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
    if "fit_id" not in deltas:
        deltas = deltas.assign(fit_id=None)
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
                     "labelled_requests": done, "unlabelled_requests": open_,
                     "fit_id": group["fit_id"].iloc[0]})
    return pd.DataFrame(rows)


# Not materialized when calibration_drift's blocking check fails: no verdict on a drifted
# calibration. Its own blocking check stops label_queue (and fails the run, so `llm-migrate
# run` exits 3) when a fit behind a decision failed; the decisions are written all the same
# (as fit_failed), so BI's latest run never shows a verdict that no longer holds.
@asset(deps=[population_posterior, calibration_drift], group_name="inference",
       kinds={"duckdb"}, code_version=f"{RULE_VERSION};{POSTERIOR_VERSION}",
       metadata=table_metadata("decisions"),
       check_specs=[AssetCheckSpec(
           CHECK, asset="migration_decision", blocking=True,
           description=f"Every fit behind a decision passed its sampler diagnostics (max r_hat "
                       f"<= {MAX_R_HAT}, bulk and tail ESS >= {MIN_ESS}, no divergence); "
                       "otherwise those decisions are fit_failed and the run fails")],
       description="Decision per candidate, dimension and region (table `decisions`, view "
                   "`v_migration_verdict`).")
def migration_decision(
    context: AssetExecutionContext, config: DecisionConfig, models: ModelRegistry,
    warehouse: Warehouse,
):
    with warehouse.connect() as conn:
        deltas = conn.execute("SELECT * FROM delta_draws").df()
        n_labels = {(d, r): n for d, r, n in conn.execute(read_query("label_rows")).fetchall()}
        requests = {(c, d, r): (done, open_) for c, d, r, done, open_ in conn.execute(
            read_query("request_counts"), {"incumbent": models.incumbent}).fetchall()}
        failures = conn.execute(read_query("fit_failures")).df()
    table = decision_table(deltas, n_labels, requests, config,
                           set(zip(failures["candidate"], failures["dimension"])))
    if table.empty:
        context.log.warning("no posterior draws of Δ (delta_draws is empty): nothing to decide; "
                            "materialize population_posterior first")
        yield MaterializeResult(metadata={"verdict": {}, "dagster/row_count": 0})
        yield AssetCheckResult(check_name=CHECK, passed=True,
                               description="no decision this run: no posterior draws of Δ")
        return
    failed = failures[failures.set_index(["candidate", "dimension"]).index.isin(
        set(zip(table["candidate"], table["dimension"])))]
    for row in failed.itertuples():
        context.log.error(f"{row.candidate!r} on {row.dimension}: fit_failed, no verdict "
                          f"written ({row.failures}); raise population_posterior's tune and "
                          "draws")
    table["fitted_at"] = pd.Timestamp.now(tz="UTC")
    with warehouse.connect() as conn:
        insert_frame(conn, "decisions", table)
        verdict = conn.execute("SELECT * FROM v_migration_verdict ORDER BY candidate").df()
    overall = table[table["region"].isna()].drop(columns=["region", "fitted_at", "fit_id"])
    context.log.info("verdict:\n" + verdict.to_string(index=False))
    verdicts = {r.candidate: r.verdict for r in verdict.itertuples()}
    yield MaterializeResult(metadata={
        "verdict": verdicts,
        "decisions": MetadataValue.md(markdown_table(overall)),
        "fit_id": str(table["fit_id"].dropna().iloc[0]) if table["fit_id"].notna().any()
        else None,
        "dagster/row_count": len(table),
        "posterior": MetadataValue.md(markdown_figures(
            delta_figures(deltas, table, verdicts), "posterior of Δ")),
    })
    yield converged_check(failed, len(set(zip(table["candidate"], table["dimension"]))))


def converged_check(failed: pd.DataFrame, decided: int) -> AssetCheckResult:
    """fits_converged: passes when no (candidate, dimension) decided this run rests on a
    failed fit; else says which, why, with which sampler settings, and what to raise.
    ``failed``: the fit_failures query's rows for them."""
    if failed.empty:
        return AssetCheckResult(
            check_name=CHECK, passed=True,
            description=f"the fits behind all {decided} candidate x dimension decisions passed "
                        f"their diagnostics (r_hat <= {MAX_R_HAT}, ESS >= {MIN_ESS}, no "
                        "divergence)")
    lines = [f"{row.candidate!r} on {row.dimension}: {row.failures}{_settings(row.config)}"
             for row in failed.itertuples()]
    return AssetCheckResult(
        check_name=CHECK, passed=False,
        description="; ".join(lines) + ". No verdict is written for these (their decisions "
                    "say fit_failed). Raise population_posterior's `tune` (r_hat, divergences) "
                    "and `draws` (ESS), e.g. both to 2000, and materialize population_posterior "
                    "and migration_decision again; the saved fits (table `fits`, uri) show "
                    "what did not mix",
        metadata={"failed_fits": MetadataValue.md(markdown_table(
            failed[["candidate", "dimension", "failures", "max_r_hat", "min_ess_bulk",
                    "min_ess_tail", "divergences"]]))})


def _settings(config) -> str:
    """`` (tune T, D draws x C chains)`` from a fits row's config JSON; empty without one."""
    if not isinstance(config, str):
        return ""
    found = json.loads(config)
    return (f" (tune {found.get('tune')}, {found.get('draws')} draws x "
            f"{found.get('chains')} chains)")
