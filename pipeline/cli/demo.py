"""``llm-migrate demo``: the whole pipeline on the embedded default, then the decision.

    llm-migrate demo [--bertscore] [--incumbent-live] [--drift] [--cascade]

The demo's incumbent is retired: its provider answers 404, and its answers are the ones
production logged (the demo traffic's ``response`` column). With ``--incumbent-live`` it is
not retired yet, and it is replayed beside its logged answers, so ``replay_fidelity`` shows
how far the replay is from what production served. ``--drift`` then plays the second
scenario (pipeline.cli.drift_scenario): a label batch in which candidate-a's calibration drifts
in one region, caught, blocked, and decided again after the restart. ``--cascade`` then
materializes the opt-in cascade alternative (pipeline.cli.cascade_scenario) and prints its
curve and where its plot is. BERTScore, the scorer that costs minutes on a CPU, is left out
unless ``--bertscore`` asks for it.

The one command that runs the Dagster layer: the CLI is the shell over both layers, and this
command alone imports the code location (so the others start without Dagster).
"""

from __future__ import annotations

import sys

import duckdb
import pandas as pd

from pipeline import config
from pipeline.cli.decisions import latest_decisions, print_decisions
from pipeline.cli.run import materialize_all
from pipeline.data.snapshot import publish_snapshot
from pipeline.report import REPORT_FILE

# The quick demo leaves out BERTScore, the one scorer that costs minutes on a CPU (about 65
# answers a second on two cores, benchmarks/bench_scoring.py): ROUGE-L still calibrates
# correctness, and the scenario and its verdicts are the same.
QUICK_SCORES = {"auto_scores": {"config": {"bertscore": False}}}


def _live_incumbent(models):
    """The registry with its incumbent not retired (yet)."""
    data = models.model_dump()
    data["models"] = [{**m, "retired": False} if m["name"] == models.incumbent else m
                      for m in data["models"]]
    return type(models)(**data)


def run_demo(args) -> int:
    """Materialize every asset on the embedded default and print the decision."""
    from assets.definitions import definitions, defs
    from pipeline.data.traffic import read_traffic
    from pipeline.demo import world as demo_world

    ops = {} if getattr(args, "bertscore", False) else QUICK_SCORES
    if getattr(args, "incumbent_live", False):
        defs = definitions(models=_live_incumbent(defs.resources["models"]))
        ops = {**ops, "replay_responses": {"config": {"replay_logged": True}}}
    run_config = {"ops": ops} if ops else {}
    database = config.database()
    drift, cascade = getattr(args, "drift", False), getattr(args, "cascade", False)
    if (drift or cascade) and has_decisions(database):  # the first scenario ran already
        return _scenarios(defs, database, drift, cascade)
    if "auto_scores" in ops:
        print("BERTScore is off in the quick demo (on two cores it would add about 100 "
              "seconds); `llm-migrate demo --bertscore` scores it too.", file=sys.stderr)
    if not materialize_all(defs, run_config):
        print("the migration job failed: the step marked FAILED above says where, and the "
              "run's log in the UI (`make dev`) says why", file=sys.stderr)
        return 1
    sources = defs.resources["sources"]
    truth = None
    if sources.traffic == "demo":  # the demo knows the answer: show it beside the estimate
        truth = demo_world.estimable_deltas(read_traffic(sources.traffic_file()))
    print("\nDecisions over all traffic (true_delta is the Δ the demo's labels estimate):")
    print_decisions(database, None if truth is None else
                    truth[truth["region"].isna()].drop(columns="region"))
    if truth is not None:
        print_coverage(database, truth)
    print_drift(database)
    print_fidelity(database)
    with duckdb.connect(database) as conn:  # no daemon here to publish it after the run
        published = publish_snapshot(conn, config.Settings.from_env().bi_snapshot)
    print(f"\nBI snapshot (DuckDB 1.4+ clients; open it read-only): {published['path']}")
    print(f"\nMigration report (one HTML file, open it in a browser): {report_location()}")
    print(f"\nWarehouse: {database}\nOpen the UI with `make dev` (http://127.0.0.1:3000).")
    return _scenarios(defs, database, drift, cascade)


def _scenarios(defs, database: str, drift: bool, cascade: bool) -> int:
    """The scenarios asked for after the first: the cascade on the demo's warehouse, then
    the drift (on a copy of it). Imported here: the demo world loads only for this command
    (production never loads it)."""
    from pipeline.cli.cascade_scenario import run_cascade_scenario
    from pipeline.cli.drift_scenario import run_drift_scenario

    status = run_cascade_scenario(defs, database) if cascade else 0
    return (run_drift_scenario(defs, database) if drift else 0) or status


def report_location() -> str:
    """Where the migration_report asset keeps the latest report (under the artifacts root)."""
    from pipeline.data.artifacts import ArtifactStore

    store = ArtifactStore(config.Settings.from_env().artifacts_root)
    return store.location(store.path(REPORT_FILE))


def has_decisions(database: str) -> bool:
    """Whether the demo's warehouse holds a decision run already."""
    try:
        with duckdb.connect(database, read_only=True) as conn:
            return conn.execute("SELECT count(*) FROM decisions").fetchone()[0] > 0
    except duckdb.Error:  # no warehouse yet, or one without the table
        return False



def print_coverage(database: str, truth: pd.DataFrame) -> None:
    """Every interval of the latest run beside the Δ the demo's labels can estimate (true
    scores after the annotators' rounding and clipping to the scale), and whether it holds
    it: the demo's own check that the pipeline tells the truth region by region."""
    table = latest_decisions(database, region=None).merge(
        truth, on=["candidate", "dimension", "region"], how="left")
    table["covered"] = (table["ci_low"] <= table["true_delta"]) \
        & (table["true_delta"] <= table["ci_high"])
    columns = ["candidate", "dimension", "region", "decision", "ci_low", "ci_high", "true_delta",
               "covered"]
    print(f"\nEvery interval against the truth: {int(table['covered'].sum())} of {len(table)} "
          "hold it.")
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        print(table[columns].round(3).to_string(index=False))


def print_drift(database: str) -> None:
    """The latest drift check: which slices' calibration has drifted since the reference."""
    with duckdb.connect(database, read_only=True) as conn:
        status = conn.execute("SELECT candidate, dimension, region, alarm, alarm_at, drifted "
                              "FROM v_drift_status ORDER BY ALL").df()
    alarms = status[status["alarm"]]
    print(f"\nCalibration drift: {len(alarms)} alarms in {len(status)} monitors (every "
          "candidate x dimension, over all traffic and per region; v_drift_status).")
    if len(alarms):
        print(alarms.to_string(index=False))


def print_fidelity(database: str) -> None:
    """Where a model was replayed beside its logged answers: how far the replay is."""
    with duckdb.connect(database, read_only=True) as conn:
        table = conn.execute("SELECT model, dimension, requests, text_rouge_l, logged_mean, "
                             "replayed_mean, difference FROM replay_fidelity "
                             "WHERE region IS NULL ORDER BY ALL").df()
    if table.empty:
        print("\nReplay fidelity: no model has both logged and replayed answers (the incumbent "
              "is retired; `llm-migrate demo --incumbent-live` replays it too).")
        return
    print("\nReplay fidelity (all traffic): the replay against production's logged answers")
    print(table.round(3).to_string(index=False))


def add_parser(commands) -> None:
    parser = commands.add_parser("demo", help="run the pipeline on the offline demo")
    parser.add_argument("--incumbent-live", action="store_true",
                        help="the incumbent is not retired yet: replay it beside its logged "
                             "answers and report the replay's fidelity")
    parser.add_argument("--bertscore", action="store_true",
                        help="score BERTScore too (off in the quick demo: about 100 more "
                             "seconds on two cores)")
    parser.add_argument("--drift", action="store_true",
                        help="then the second scenario: a label batch where candidate-a's "
                             "calibration drifts in one region, caught, blocked and decided "
                             "again (runs the first scenario only if it has not run yet)")
    parser.add_argument("--cascade", action="store_true",
                        help="then the cascade alternative: materialize cascade_plan (the "
                             "candidates still served, cheapest first), print its curve and "
                             "where its plot is (runs the first scenario only if it has not "
                             "run yet)")
    parser.set_defaults(run=run_demo)
