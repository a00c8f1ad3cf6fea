"""``llm-migrate decisions``: the latest decisions and verdicts of a warehouse, read-only."""

from __future__ import annotations

import sys

import duckdb
import pandas as pd

from pipeline import config
from pipeline.cli.inputs import read_warehouse

DECISION_COLUMNS = ["candidate", "dimension", "decision", "delta_mean", "ci_low", "ci_high",
                    "p_better", "margin", "labelled_requests", "labels_needed", "plan"]


ALL_TRAFFIC = object()  # latest_decisions' default: the rows over all traffic (region NULL)


def latest_decisions(database: str, region=ALL_TRAFFIC) -> pd.DataFrame:
    """The latest decision run's rows: over all traffic (region NULL, the default), of one
    region (its name: any string, ``'ALL'`` included), or every row (None). The all-traffic
    rows come first in each (candidate, dimension)."""
    where, params = "region IS NULL", []
    if region is None:
        where = "true"
    elif region is not ALL_TRAFFIC:
        where, params = "region = ?", [region]
    with read_warehouse(database) as conn:
        return conn.execute(
            f"SELECT * FROM v_latest_decisions WHERE {where} "
            "ORDER BY candidate, dimension, region NULLS FIRST", params).df()


def verdicts(database: str) -> pd.DataFrame:
    with read_warehouse(database) as conn:
        return conn.execute(
            "SELECT candidate, verdict, labels_needed, plan, by_dimension, blocking_regions "
            "FROM v_migration_verdict ORDER BY 1"
        ).df()


def print_decisions(database: str, truth: pd.DataFrame | None = None) -> None:
    table = latest_decisions(database)[DECISION_COLUMNS]
    if truth is not None:
        table = table.merge(truth, on=["candidate", "dimension"], how="left")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(3).to_string(index=False))
        print()
        print(verdicts(database).to_string(index=False))


def run_decisions(args) -> int:
    """Print the latest decisions; a missing file or one that is no warehouse is named (an
    InputError from read_warehouse, printed by ``llm-migrate``)."""
    try:
        print_decisions(args.db)
    except duckdb.CatalogException:
        print(f"llm-migrate decisions: {args.db}: holds no decisions yet (no "
              "v_latest_decisions view: is it an llm-migrate warehouse?)", file=sys.stderr)
        return 2
    return 0


def add_parser(commands) -> None:
    decisions = commands.add_parser("decisions", help="print the latest decisions")
    decisions.add_argument("--db", default=config.database(),
                           help="the warehouse, opened read-only (default: LLM_MIGRATE_DB)")
    decisions.set_defaults(run=run_decisions)
