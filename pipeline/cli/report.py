"""``llm-migrate report``: write the migration report of a warehouse, read-only.

    llm-migrate report [--db PATH] [--out FILE]

``--db`` defaults to LLM_MIGRATE_DB; ``--out`` to ``migration_report.html`` under the
artifacts root (LLM_MIGRATE_ARTIFACTS), where the ``migration_report`` asset keeps the latest.
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

REPORT = "migration_report.html"


def run_report(args) -> int:
    # Imported here: the figures load matplotlib and ArviZ, which no other command needs.
    from pipeline.report.build import report_context
    from pipeline.report.evidence import gather
    from pipeline.report.html import render

    settings = config.Settings.from_env()
    database = args.db or settings.database
    with read_warehouse(database) as conn:
        evidence = gather(conn)
    if evidence.decisions.empty:
        print(f"llm-migrate report: {database}: holds no decisions yet; the report shows what "
              "there is (run the pipeline to decide)", file=sys.stderr)
    html = render(report_context(evidence))
    print(_write(html, args.out, settings.artifacts_root))
    return 0


def _write(html: str, out: str | None, artifacts_root: str) -> str:
    """Write the page to ``out`` (a file), else under the artifacts root; where it is."""
    if not out:
        return ArtifactStore(artifacts_root).write_text(html, REPORT)
    target = Path(out)
    if target.is_dir():
        raise InputError(f"{out}: is a folder; give the report's file name, e.g. "
                         f"{os.path.join(out, REPORT)}")
    if not target.parent.is_dir():
        raise InputError(f"{out}: no folder {target.parent} to write the report into")
    return ArtifactStore(target.parent.resolve()).write_text(html, target.name)


def add_parser(commands) -> None:
    report = commands.add_parser("report", help="write the migration report (one HTML file)")
    report.add_argument("--db", help="the warehouse, opened read-only (default: LLM_MIGRATE_DB)")
    report.add_argument("--out", help="the HTML file to write (default: migration_report.html "
                                      "under LLM_MIGRATE_ARTIFACTS)")
    report.set_defaults(run=run_report)
