"""Non-blocking checks (WARN) on every table the pipeline writes: one `tables_valid` check per
asset, over the tables that asset writes: row counts, values that must be there, and ranges
(scores within their scale, probabilities in [0, 1], latency and cost >= 0, ...).

They run after the asset in every job, and on their own from the UI (the asset's Checks tab,
"Execute"). A failure is a warning: the rows stay, and the message gives the query that finds
them. The rules are fixed SQL over the schema in sql/tables (no name from the data is ever
part of a query).
"""

from dataclasses import dataclass

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    MetadataValue,
    asset_check,
)

from pipeline.data.dimensions import DIMENSIONS
from pipeline.data.markdown import markdown_table
from resources import Warehouse

CHECK = "tables_valid"


@dataclass(frozen=True)
class Rule:
    """What every row must satisfy, and the SQL condition of a row that does not."""

    must: str
    broken_when: str


@dataclass(frozen=True)
class Table:
    """A table an asset writes, the rows of it to check (``latest``: a condition naming the
    last run's rows of an appended table), and whether it must have rows after the asset."""

    name: str
    rules: tuple[Rule, ...]
    latest: str = ""
    required: bool = True

    def rows(self) -> str:
        return f"{self.name} WHERE {self.latest}" if self.latest else self.name


def _latest(table: str, column: str) -> str:
    return f"{column} = (SELECT max({column}) FROM {table})"


def _within(column: str, low: float, high: float) -> str:
    return f"{column} < {low} OR {column} > {high}"


def _on_scale(column: str) -> str:
    """The condition of a score off its dimension's human scale (or of an unknown dimension)."""
    cases = " ".join(
        f"WHEN '{d.name}' THEN {column} NOT IN (0, 1)" if d.binary else
        f"WHEN '{d.name}' THEN {column} NOT BETWEEN {d.low} AND {d.high}"
        for d in DIMENSIONS.values())
    return f"CASE dimension {cases} ELSE true END"


def _beyond_span(column: str) -> str:
    """The condition of a difference of mean scores larger than the dimension's scale."""
    cases = " ".join(f"WHEN '{d.name}' THEN abs({column}) > {d.high - d.low}"
                     for d in DIMENSIONS.values())
    return f"CASE dimension {cases} ELSE false END"


PROBABILITY = "in [0, 1]"
FIT_ID = Rule("a fit_id (the fit run it comes from)", "fit_id IS NULL")

TABLES: dict[str, tuple[Table, ...]] = {
    "traffic_sample": (
        Table("traffic", (Rule("a prompt", "trim(prompt) = ''"),
                          Rule("a region", "trim(region) = ''"))),
    ),
    "replay_responses": (
        Table("responses", (
            Rule("source replay, batch or logged", "source NOT IN ('replay', 'batch', 'logged')"),
            Rule("status ok or error", "status NOT IN ('ok', 'error')"),
            Rule("an answer and its hash when ok",
                 "status = 'ok' AND (response IS NULL OR response_hash IS NULL)"),
            Rule("an error message when failed", "status = 'error' AND error IS NULL"),
            Rule("latency_ms >= 0", "latency_ms < 0"),
            Rule("tokens >= 0", "tokens_in < 0 OR tokens_out < 0"),
            Rule("cost_usd >= 0", "cost_usd < 0"),
            Rule("confidence <= 0 (a mean log-probability)", "confidence > 0"),
        )),
        Table("batches", (
            Rule("a known status", "status NOT IN ('submitting', 'submitted', 'collected', "
                                   "'lost', 'not_accepted')"),
            Rule("request_count >= 0", "request_count < 0"),
        ), required=False),
    ),
    "auto_scores": (
        Table("auto_scores", (
            Rule("value in [0, 1] (BERTScore in [-1, 1])",
                 "isnan(value) OR value > 1 OR value < "
                 "CASE WHEN metric LIKE 'bertscore%' THEN -1 ELSE 0 END"),
            Rule("a value for refusal and style", "value IS NULL AND metric IN ('refusal', "
                                                  "'style')"),
        )),
    ),
    "human_labels": (
        Table("human_labels", (
            Rule("a score on its dimension's scale", _on_scale("score")),
            Rule("an annotator", "trim(annotator) = ''"),
        )),
        Table("label_quarantine", (Rule("a reason", "trim(reason) = ''"),), required=False),
    ),
    "calibration_drift": (
        Table("drift_status", (
            Rule(f"alpha {PROBABILITY}", _within("alpha", 0, 1)),
            Rule("label counts >= 0", "n_reference < 0 OR n_stream < 0"),
            Rule("alarm_at when alarmed", "alarm AND alarm_at IS NULL"),
        ), latest=_latest("drift_status", "checked_at")),
        Table("drift_statistics", (
            Rule("statistic >= 0", "statistic < 0 OR isnan(statistic)"),
            Rule("threshold > 0", "threshold <= 0"),
        ), latest=_latest("drift_statistics", "checked_at"), required=False),
    ),
    "population_posterior": (
        Table("delta_draws", (
            Rule("a finite delta", "isnan(delta) OR isinf(delta)"),
            Rule("|delta| within the dimension's scale", _beyond_span("delta")),
            FIT_ID,
        )),
        Table("fit_diagnostics", (
            Rule("divergences >= 0", "divergences < 0"),
            Rule("ESS >= 0", "min_ess_bulk < 0 OR min_ess_tail < 0"),
            FIT_ID,
        )),
        Table("fit_history", (
            Rule("delta_low <= delta_mean <= delta_high",
                 "delta_low > delta_mean OR delta_mean > delta_high"),
            Rule("delta_sd >= 0", "delta_sd < 0"),
        ), latest=_latest("fit_history", "fitted_at")),
        Table("fits", (
            Rule("a uri and a data hash", "trim(uri) = '' OR trim(data_hash) = ''"),
        ), latest=_latest("fits", "fitted_at")),
        Table("fit_parameters", (
            Rule("sd >= 0", "sd < 0"),
            Rule("hdi_low <= hdi_high", "hdi_low > hdi_high"),
            Rule("ESS >= 0", "ess_bulk < 0 OR ess_tail < 0"),
        ), latest="fit_id = (SELECT fit_id FROM fits ORDER BY fitted_at DESC LIMIT 1)",
            required=False),  # the calibration method has calibration_summary instead
    ),
    "migration_decision": (
        Table("decisions", (
            Rule("a known decision", "decision NOT IN ('migrate', 'hold', 'need_more_labels', "
                                     "'fit_failed')"),
            Rule(f"p_better {PROBABILITY}", _within("p_better", 0, 1)),
            Rule(f"prob {PROBABILITY}", _within("prob", 0, 1)),
            Rule(f"settle_prob {PROBABILITY}", _within("settle_prob", 0, 1)),
            Rule("ci_low <= ci_high", "ci_low > ci_high"),
            Rule("margin >= 0", "margin < 0"),
            Rule("label counts >= 0", "n_labels < 0 OR labels_needed < 0"),
            Rule("a plan when more labels are needed",
                 "decision = 'need_more_labels' AND plan IS NULL"),
            FIT_ID,
        ), latest=_latest("decisions", "fitted_at")),
    ),
    "label_queue": (
        Table("label_queue", (
            Rule("inclusion_prob in (0, 1]", "inclusion_prob <= 0 OR inclusion_prob > 1"),
            Rule("weight = 1 / inclusion_prob", "abs(weight * inclusion_prob - 1) > 1e-6"),
            Rule("to_label only when selected", "to_label AND NOT selected"),
        ), latest=_latest("label_queue", "queued_at"), required=False),
    ),
    "replay_fidelity": (
        Table("replay_fidelity", (
            Rule("requests > 0", "requests <= 0"),
            Rule(f"text_rouge_l {PROBABILITY}", _within("text_rouge_l", 0, 1)),
            Rule("text_bertscore in [-1, 1]", _within("text_bertscore", -1, 1)),
        ), required=False),
    ),
    "cascade_plan": (
        Table("cascade_curves", (
            Rule(f"errors {PROBABILITY}", f"{_within('expected_error', 0, 1)} OR "
                                          f"{_within('measured_error', 0, 1)}"),
            Rule("costs >= 0", "expected_cost < 0 OR measured_cost < 0"),
        ), latest=_latest("cascade_curves", "fitted_at"), required=False),
    ),
}


def table_findings(conn, tables: tuple[Table, ...]) -> list[dict]:
    """Per table and rule: the rows checked and how many break it (one query per table)."""
    found = []
    for table in tables:
        counts = ", ".join(f"count(*) FILTER (WHERE coalesce(({rule.broken_when}), false))"
                           for rule in table.rules)
        total, *broken = conn.execute(f"SELECT count(*), {counts} FROM {table.rows()}"
                                      ).fetchone()
        found.append({"table": table, "rows": total, "broken": dict(zip(table.rules, broken))})
    return found


def describe(findings: list[dict]) -> tuple[list[str], list[dict]]:
    """(the problems, one sentence each with the query that finds the rows; a summary row per
    table and rule for the metadata)."""
    problems, summary = [], []
    for finding in findings:
        table, rows = finding["table"], finding["rows"]
        if table.required and rows == 0:
            problems.append(f"{table.name}: no rows; the asset wrote nothing (see its log)")
        for rule, broken in finding["broken"].items():
            summary.append({"table": table.name, "rows": rows, "must have": rule.must,
                            "rows without": broken})
            if broken:
                problems.append(f"{table.name}: {broken} of {rows} rows without {rule.must} "
                                f"(SELECT * FROM {table.rows()}"
                                f"{' AND' if table.latest else ' WHERE'} ({rule.broken_when}))")
    return problems, summary


def tables_check(asset_name: str, tables: tuple[Table, ...]):
    """The `tables_valid` check of ``asset_name`` over ``tables``."""
    names = ", ".join(table.name for table in tables)

    @asset_check(asset=asset_name, name=CHECK, blocking=False,
                 description=f"Row counts, required values and ranges of {names} (warns)")
    def _check(context: AssetCheckExecutionContext, warehouse: Warehouse) -> AssetCheckResult:
        with warehouse.connect() as conn:
            problems, summary = describe(table_findings(conn, tables))
        for problem in problems:
            context.log.warning(problem)
        return AssetCheckResult(
            passed=not problems, severity=AssetCheckSeverity.WARN,
            description=" | ".join(problems) if problems else
            f"{names}: every row has what it must ({len(summary)} rules)",
            metadata={"rules": MetadataValue.md(markdown_table(pd.DataFrame(
                summary, columns=["table", "rows", "must have", "rows without"])))})

    return _check


TABLE_CHECKS = [tables_check(name, tables) for name, tables in TABLES.items()]
