"""The ``llm-migrate`` command.

    llm-migrate demo                 run the whole pipeline on the offline demo, print the decision
    llm-migrate run --traffic F --labels G --models R [--db P] [--candidates N ...] [--json]
                                     the whole pipeline on your data; exit status = verdict
    llm-migrate decisions [--db P]   print the latest decisions from a warehouse
    llm-migrate replay PROMPTS ...   replay a prompt file against one model (see --help)
    llm-migrate compare FILE --incumbent A --candidate B[,C...] [--json]
                                     Δ and the decision from a parquet/csv of scored responses;
                                     with several candidates also P(best) for each model
    llm-migrate cascade FILE --models A,B,C [--cost-weight W] [--json]
                                     a cascade's thresholds and error-cost curve from a file
                                     of (item_id, model, confidence, correct, cost)
    llm-migrate bi publish [--db P] [--out F]
                                     write the read-only BI snapshot (DuckDB 1.4+ format)
    llm-migrate report [--db P] [--out F]
                                     write the migration report (one self-contained HTML file)
"""

from __future__ import annotations

import argparse
import sys

from pipeline.cli import bi, cascade, compare, decisions, demo, labels, replay, report, run
from pipeline.cli.inputs import InputError


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="llm-migrate", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = root.add_subparsers(dest="command", required=True)
    for command in (demo, run, decisions, replay, compare, cascade, labels, bi, report):
        command.add_parser(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    """Run a sub-command; a path it cannot use is one line on stderr and exit status 2."""
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except InputError as error:
        print(f"llm-migrate {args.command}: {error}", file=sys.stderr)
        return 2
