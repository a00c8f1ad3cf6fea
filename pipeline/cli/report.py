"""``llm-migrate report``: write the migration report of a warehouse, read-only.

    llm-migrate report [--db PATH] [--out FILE] [--artifacts ROOT]

``--db`` defaults to LLM_MIGRATE_DB; ``--out`` to ``migration_report.html`` under the
artifacts root (``--artifacts``, else LLM_MIGRATE_ARTIFACTS), where the ``migration_report``
asset keeps the latest. The saved fits of the latest run (their trace, rank and posterior
predictive plots) are read from under that root only, never from a path the warehouse names.
The warehouse is opened read-only with external access disabled (pipeline.cli.inputs), so a
warehouse from anyone can be reported on. Prints where the report is.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pipeline import config
from pipeline.cli.inputs import InputError, read_warehouse
from pipeline.data.artifacts import ArtifactStore
from pipeline.report import REPORT_FILE


def run_report(args) -> int:
    # Imported here: the figures load matplotlib and ArviZ, which no other command needs.
    from pipeline.report.build import report_context
    from pipeline.report.evidence import gather, saved_fits
    from pipeline.report.html import render

    settings = config.Settings.from_env()
    database = args.db or settings.database
    store, name = _destination(args.out, args.artifacts or settings.artifacts_root)
    with read_warehouse(database) as conn:
        evidence = gather(conn)
    if evidence.decisions.empty:
        print(f"llm-migrate report: {database}: holds no decisions yet; the report shows what "
              "there is (run the pipeline to decide)", file=sys.stderr)
    fits, note = saved_fits(ArtifactStore(args.artifacts or settings.artifacts_root),
                            evidence.fit_files)
    print(store.write_text(render(report_context(evidence, fits, fits_note=note)), name))
    return 0


def _destination(out: str | None, artifacts_root: str) -> tuple[ArtifactStore, str]:
    """Where the page goes: ``out`` (a file in a folder that exists), else the artifacts
    root; checked before anything is read."""
    if not out:
        return ArtifactStore(artifacts_root), REPORT_FILE
    target = Path(out)
    if target.is_dir():
        raise InputError(f"{out}: is a folder; give the report's file name, e.g. "
                         f"{os.path.join(out, REPORT_FILE)}")
    if not target.parent.is_dir():
        raise InputError(f"{out}: no folder {target.parent} to write the report into")
    return ArtifactStore(target.parent.resolve()), target.name


def add_parser(commands) -> None:
    report = commands.add_parser("report", help="write the migration report (one HTML file)")
    report.add_argument("--db", help="the warehouse, opened read-only (default: LLM_MIGRATE_DB)")
    report.add_argument("--out", help="the HTML file to write (default: migration_report.html "
                                      "under LLM_MIGRATE_ARTIFACTS)")
    report.add_argument("--artifacts", help="the artifacts root holding the saved fits (default: "
                                            "LLM_MIGRATE_ARTIFACTS)")
    report.set_defaults(run=run_report)
