"""``llm-migrate demo --drift``: the demo's second scenario. After the demo's run, a second label
batch streams in where candidate-a's correctness in ``de`` is judged 1.5 points worse while its
automated scores do not move. ``recalibration_job`` (what the label-file sensor launches) runs
twice: the first run's drift check catches it and blocks the decision; the next one restarts
the calibration at the change, on the labels given since, and decides again."""

from __future__ import annotations

import glob
import shutil
import sys
from pathlib import Path

import duckdb

from pipeline.cli.run import materialize_all
from pipeline.data.database import describe, is_local_file
from pipeline.demo.drift_batch import DIMENSION, DRIFTED_MODEL, DRIFTED_REGION, drift_batch


def write_drift_batch(sources) -> str:
    """Write the drifted batch beside the demo's labels; the glob that reads both."""
    from pipeline.data.labels import read_label_file
    from pipeline.data.traffic import read_traffic

    (first,) = sources.label_files()
    batch = drift_batch(read_traffic(sources.traffic_file()), read_label_file(first))
    batch.to_csv(first.with_name(f"{first.stem}-drift-batch.csv"), index=False)
    return str(first.parent / f"{glob.escape(first.stem)}*.csv")


def latest_alarms(database: str) -> list[tuple]:
    with duckdb.connect(database, read_only=True) as conn:
        return conn.execute(
            "SELECT candidate, dimension, coalesce(region, 'all traffic'), alarm_at, drifted "
            "FROM v_drift_status WHERE alarm ORDER BY ALL").fetchall()


def decided_runs(database: str) -> int:
    with duckdb.connect(database, read_only=True) as conn:
        return conn.execute("SELECT count(DISTINCT fitted_at) FROM decisions").fetchone()[0]


def print_after_restart(database: str) -> None:
    """The drifted slice region by region, and the verdicts."""
    from pipeline.cli.decisions import latest_decisions, verdicts

    rows = latest_decisions(database, region=None)
    rows = rows[(rows["candidate"] == DRIFTED_MODEL) & (rows["dimension"] == DIMENSION)]
    rows = rows.assign(region=rows["region"].fillna("(all traffic)"))
    columns = ["region", "decision", "delta_mean", "ci_low", "ci_high", "labelled_requests"]
    print(f"\n{DRIFTED_MODEL} on {DIMENSION}, decided again on the labels since the change:")
    print(rows[columns].round(3).to_string(index=False))
    print()
    print(verdicts(database)[["candidate", "verdict", "blocking_regions"]].to_string(index=False))


def run_drift_scenario(defs, database: str) -> int:
    """Stream in the drifted batch and run recalibration_job until the decision is back, on a
    copy of the demo's warehouse ``database``, which must be a local file: a warehouse on a
    service is never copied."""
    from assets.definitions import definitions
    from resources import DataSources, Warehouse

    if not is_local_file(database):
        print(f"llm-migrate demo --drift: {database} is a {describe(database)}; the drift "
              "scenario plays on a copy of a local warehouse file: run the demo with "
              "LLM_MIGRATE_DB unset, or set to a file", file=sys.stderr)
        return 1
    sources = defs.resources["sources"]
    labels = write_drift_batch(sources)
    # On a copy: the first scenario's warehouse stays as `make demo` left it.
    source = Path(database)
    database = str(source.with_name(f"{source.stem}-drift{source.suffix}"))
    shutil.copyfile(source, database)
    drifted = definitions(warehouse=Warehouse(database=database), sources=DataSources(
        traffic=sources.traffic, labels=labels, demo_dir=sources.demo_dir,
        demo_rows=sources.demo_rows, demo_labels_per_dimension=sources.demo_labels_per_dimension,
        demo_seed=sources.demo_seed))
    print(f"\nDrift scenario, on a copy of the warehouse ({database}): a second label batch "
          f"({labels}) where {DRIFTED_MODEL}'s {DIMENSION} in {DRIFTED_REGION} is judged "
          f"worse while its automated scores do not move. recalibration_job, as the label-file "
          "sensor would start it:")
    before = decided_runs(database)
    materialize_all(drifted, job="recalibration_job")
    alarms = latest_alarms(database)
    blocked = decided_runs(database) == before
    print(f"\n1st run: {len(alarms)} alarm(s); the decision was "
          f"{'blocked (no decision written)' if blocked else 'written'}:")
    for candidate, dimension, region, alarm_at, drifted_part in alarms:
        print(f"  {candidate}/{dimension}/{region}: drifted at the label of {alarm_at} "
              f"({drifted_part})")
    if not alarms or not blocked:
        print("the drift was not caught: see the run's log", file=sys.stderr)
        return 1
    print("\n2nd run: the calibration restarts at the change, on the labels since it:")
    materialize_all(drifted, job="recalibration_job")
    if decided_runs(database) == before:
        print("no decision after the restart: see the run's log", file=sys.stderr)
        return 1
    print_after_restart(database)
    return 0
