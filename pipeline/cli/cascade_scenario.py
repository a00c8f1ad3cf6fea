"""``llm-migrate demo --cascade``: the cascade alternative on the demo's warehouse. After the
demo's run, ``cascade_job`` materializes the opt-in ``cascade_plan`` asset (the candidates
still served, cheapest first), and the command prints the curve's thresholds with the error
and cost each point measured held out, and where the curve's plot is."""

from __future__ import annotations

import sys

import duckdb
import pandas as pd

from pipeline import config
from pipeline.cli.run import materialize_all
from pipeline.report import CASCADE_PLOTS


def latest_curves(database: str) -> pd.DataFrame:
    """The rows of the latest cascade_plan run."""
    from pipeline.data.warehouse import read_query

    with duckdb.connect(database, read_only=True) as conn:
        return conn.execute(read_query("report_cascade_curves")).df()


def plot_location(number: int) -> str:
    """Where cascade_plan keeps the latest plot of its ``number``-th cascade."""
    from pipeline.data.artifacts import ArtifactStore

    store = ArtifactStore(config.Settings.from_env().artifacts_root)
    return store.location(store.path(CASCADE_PLOTS, f"cascade-{number}.png"))


def _threshold(value: float) -> str:
    if value == float("-inf"):
        return "-inf (answers all)"
    if value == float("inf"):
        return "inf (defers all)"
    return f"{value:.3f}"


def print_curves(curves: pd.DataFrame) -> None:
    """Each cascade: its confidence sources, the best single model, and each point."""
    for number, (name, rows) in enumerate(curves.groupby("cascade", sort=False), 1):
        first = rows.iloc[0]
        sources = ", ".join(f"{m}: {s}" for m, s in zip(first["models"],
                                                        first["confidence_sources"]))
        print(f"\nCascade {name} on {first['n_items']} labelled requests (confidence: "
              f"{sources}). Best single model: {first['best_single_model']}, error "
              f"{first['best_single_error']:.3f} at {first['best_single_cost']:.3g} USD a "
              f"request. Measured held out: {first['measured_on']}.")
        table = pd.DataFrame({
            "cost_weight": rows["cost_weight"].map(lambda w: f"{w:.3g}"),
            "thresholds": rows["thresholds"].map(lambda ts: ", ".join(map(_threshold, ts))),
            "expected_error": rows["expected_error"].round(3),
            "expected_cost": rows["expected_cost"].map(lambda c: f"{c:.3g}"),
            "measured_error": rows["measured_error"].round(3),
            "measured_cost": rows["measured_cost"].map(lambda c: f"{c:.3g}")})
        print(table.to_string(index=False))
        print(f"Plot of the curve: {plot_location(number)}")


def run_cascade_scenario(defs, database: str) -> int:
    """Materialize cascade_plan on the demo's warehouse and print what it chose."""
    print("\nCascade alternative: cascade_job materializes cascade_plan (the candidates still "
          "served, cheapest first) on the answers and labels of the run above.")
    if not materialize_all(defs, job="cascade_job"):
        print("cascade_job failed: the step marked FAILED above says why", file=sys.stderr)
        return 1
    curves = latest_curves(database)
    if curves.empty:
        print("No cascade could be fitted (the run's log says why).", file=sys.stderr)
        return 1
    print_curves(curves)
    return 0
