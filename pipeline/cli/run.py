"""``llm-migrate run``: the whole pipeline on your own traffic, labels and models, then the verdict.

    llm-migrate run --traffic FILE --labels GLOB --models REGISTRY.yaml [--db PATH]
                    [--artifacts DIR] [--candidates NAME ...] [--config RUN.yaml] [--json]

It materializes every asset over every model partition in this process: the run the UI's
``migration_job`` launches, recorded in the same Dagster instance (``DAGSTER_HOME``, else the
project's ``.dagster_home``), so it shows in ``make dev`` afterwards. A flag left out falls
back to its environment variable (LLM_MIGRATE_TRAFFIC, _LABELS, _MODELS, _DB, _ARTIFACTS), and
then to the offline demo, which the command says when it happens. ``--config`` is Dagster run
configuration (the asset config the UI's launchpad edits: sample size, BERTScore on or off,
sampler draws, margins; see examples/run-config.yaml).

The exit status is the verdict, so a deployment pipeline can gate on it: 0 some candidate
migrates; 1 every candidate holds; 2 none migrates yet, and more labels would settle one; 3 no
verdict (bad input, a failed run, or a fit that failed its diagnostics).
"""

from __future__ import annotations

import glob
import json
import os
import sys
from pathlib import Path

import duckdb
import pandas as pd

from pipeline import config
from pipeline.cli.decisions import latest_decisions, print_decisions, verdicts

MIGRATE, HOLD, NEED_MORE_LABELS, NO_VERDICT = 0, 1, 2, 3
DEMO = "demo"


class UsageError(ValueError):
    """A path or a name on the command line that cannot be used; the message says why."""


def exit_code(verdict_table: pd.DataFrame) -> int:
    """The run's exit status from its verdicts (see the module docstring): one migrating
    candidate is enough; a candidate without a verdict outranks a hold, since it might
    migrate once refitted."""
    found = set(verdict_table["verdict"])
    if "migrate" in found:
        return MIGRATE
    if not found or "fit_failed" in found:
        return NO_VERDICT
    return NEED_MORE_LABELS if "need_more_labels" in found else HOLD


def settings_from_args(args) -> config.Settings:
    """The environment's settings with the command line's paths on top, each checked."""
    from_env = config.Settings.from_env()
    given = {"database": args.db, "models_file": args.models, "traffic": args.traffic,
             "labels": args.labels, "artifacts_root": args.artifacts}
    settings = from_env.model_copy(update={k: v for k, v in given.items() if v})
    if settings.traffic != DEMO and not Path(settings.traffic).is_file():
        raise UsageError(f"--traffic {settings.traffic}: no such file (Parquet or CSV; see "
                         "README, 'Input formats')")
    if settings.labels != DEMO and not glob.glob(settings.labels):
        raise UsageError(f"--labels {settings.labels}: no file matches (a file, or a glob in "
                         "quotes such as 'labels/*.csv')")
    if settings.models_file and not Path(settings.models_file).is_file():
        raise UsageError(f"--models {settings.models_file}: no such registry file")
    return settings


def describe_sources(settings: config.Settings) -> list[str]:
    """What this run reads, a line each, saying where the offline demo stands in."""
    traffic = "the offline demo's traffic" if settings.traffic == DEMO else settings.traffic
    labels = "the offline demo's labels" if settings.labels == DEMO else settings.labels
    registry = settings.models_file or "the offline demo's registry: its models answer locally"
    return [f"traffic:   {traffic}", f"labels:    {labels}", f"models:    {registry}",
            f"warehouse: {settings.database}", f"artifacts: {settings.artifacts_root}"]


def read_run_config(path: str | None) -> dict:
    """The run configuration in YAML file ``path`` (none: empty); Dagster checks its keys."""
    if not path:
        return {}
    if not Path(path).is_file():
        raise UsageError(f"--config {path}: no such file")
    loaded = config.read_yaml_file(path, "run configuration") or {}
    if not isinstance(loaded, dict):
        raise UsageError(f"--config {path}: a run configuration is a mapping (ops: ...), not "
                         f"{type(loaded).__name__}")
    return loaded


def restrict_candidates(registry, candidates: list[str]):
    """The registry with only the incumbent, the chosen candidates and any judge."""
    if not candidates:
        return registry
    unknown = [name for name in candidates if name not in registry.candidates()]
    if unknown:
        raise UsageError(f"--candidates: {', '.join(map(repr, unknown))} not a candidate of "
                         f"the registry (candidates: {', '.join(registry.candidates())}; "
                         f"incumbent: {registry.incumbent})")
    kept = {registry.incumbent, *candidates}
    data = registry.model_dump()
    data["models"] = [m for m in data["models"] if m["name"] in kept or m["judge_only"]]
    return type(registry)(**data)


def dagster_instance():
    """The instance of ``DAGSTER_HOME``, else of the project's ``.dagster_home`` (the one
    ``make dev`` shows), created with telemetry off."""
    from dagster import DagsterInstance

    if not os.environ.get("DAGSTER_HOME"):
        home = config.PROJECT_ROOT / ".dagster_home"
        home.mkdir(exist_ok=True)
        settings_file = home / "dagster.yaml"
        if not settings_file.exists():
            settings_file.write_text("telemetry:\n  enabled: false\n")
        os.environ["DAGSTER_HOME"] = str(home)
    return DagsterInstance.get()


def run_config_with_progress(run_config: dict) -> dict:
    """``run_config`` with the stage lines on the console instead of Dagster's lines (every
    event still lands in the run log, which `make dev` shows)."""
    return {**run_config, "loggers": {"stages": {}}}


def materialize_all(defs, run_config: dict | None = None, job: str = "migration_job") -> bool:
    """Run ``job`` (by default the whole graph) over every model partition of ``defs``'
    registry in-process; True when every step succeeded. A run configuration Dagster refuses
    raises ``UsageError`` with Dagster's words."""
    from dagster import DagsterInvalidConfigError

    from assets.partitions import all_models_tags, ensure_model_partitions

    instance = dagster_instance()
    ensure_model_partitions(instance, defs.resources["models"].names())
    job_def = defs.resolve_job_def(job)
    partitioned = job_def.partitions_def is not None
    try:
        result = job_def.execute_in_process(
            instance=instance, tags=all_models_tags(instance) if partitioned else None,
            run_config=run_config_with_progress(run_config or {}), raise_on_error=False)
    except DagsterInvalidConfigError as error:
        raise UsageError(f"the run configuration is not valid: {error}") from None
    return result.success


def verdict_report(database: str) -> dict:
    """The latest verdicts and decisions of the warehouse, as ``--json`` prints them."""
    table = verdicts(database)
    decisions = latest_decisions(database, region=None)
    return {"exit_code": exit_code(table), "warehouse": database,
            "verdicts": json.loads(table.to_json(orient="records")),
            "decisions": json.loads(decisions.to_json(orient="records", date_format="iso"))}


def run_pipeline(args) -> int:
    """Check the inputs, run the pipeline, print the verdict; the exit status is the verdict."""
    from assets.definitions import definitions, resources

    try:
        settings = settings_from_args(args)
        run_config = read_run_config(args.config)
        replaced = resources(settings)
        replaced["models"] = restrict_candidates(replaced["models"], args.candidates or [])
        if not args.json:
            print("\n".join(describe_sources(settings)), file=sys.stderr)
        succeeded = materialize_all(definitions(**replaced), run_config)
    except (UsageError, ValueError) as error:  # RegistryError is a ValueError
        print(f"llm-migrate run: {error}", file=sys.stderr)
        return NO_VERDICT
    if not succeeded:
        print("llm-migrate run: the pipeline failed or a blocking check stopped it (no verdict "
              "from this run); the step marked FAILED and the errors above say where and why, "
              "and the run's log in the UI (`make dev`) has every check", file=sys.stderr)
        return NO_VERDICT
    try:
        report = verdict_report(settings.database)
    except duckdb.Error as error:
        print(f"llm-migrate run: {settings.database}: no verdict to read ({error})",
              file=sys.stderr)
        return NO_VERDICT
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print()
        print_decisions(settings.database)
    return report["exit_code"]


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "run", help="run the whole pipeline on your traffic, labels and models; exit status "
                    "0 migrate, 1 hold, 2 need more labels, 3 no verdict")
    parser.add_argument("--traffic", help="Parquet or CSV of production requests "
                                          "(default: LLM_MIGRATE_TRAFFIC, else the demo)")
    parser.add_argument("--labels", help="label file or glob, quoted (default: "
                                         "LLM_MIGRATE_LABELS, else the demo)")
    parser.add_argument("--models", help="YAML model registry (default: LLM_MIGRATE_MODELS, "
                                         "else the offline demo registry)")
    parser.add_argument("--db", help="DuckDB warehouse file (default: LLM_MIGRATE_DB, else "
                                     "data/llm_migrate.duckdb)")
    parser.add_argument("--artifacts", metavar="DIR",
                        help="folder or fsspec URL for saved fits, reports and label-queue "
                             "sheets (default: LLM_MIGRATE_ARTIFACTS, else data/)")
    parser.add_argument("--candidates", nargs="+", metavar="NAME",
                        help="the candidates to compare, by registry name (default: every "
                             "candidate of the registry)")
    parser.add_argument("--config", metavar="RUN.yaml",
                        help="Dagster run configuration: the assets' config, as in the UI's "
                             "launchpad (see examples/run-config.yaml)")
    parser.add_argument("--json", action="store_true",
                        help="print the verdicts and decisions as JSON on stdout")
    parser.set_defaults(run=run_pipeline)
