"""The Dagster code location: assets, resources, jobs, schedules and the sensor.

DuckDB allows one writer per file, so every job runs its steps in one process
(``in_process_executor``); the same definitions work against MotherDuck or a warehouse.
Settings come from the environment (pipeline.config); a bad registry file stops the code
location from loading with an error that names the file and the field.
"""

import os

from dagster import Definitions, EnvVar, colored_console_logger, in_process_executor

from assets import ALL_ASSETS, ALL_CHECKS
from assets.bi_snapshot import bi_snapshot
from assets.jobs import JOBS, SCHEDULES, SENSORS
from assets.progress import stages
from pipeline.config import Settings
from resources import Artifacts, BISnapshot, DataSources, ModelRegistry, Warehouse

KEY_VARIABLES = {"openai_api_key": "OPENAI_API_KEY", "anthropic_api_key": "ANTHROPIC_API_KEY",
                 "openai_compatible_api_key": "OPENAI_COMPATIBLE_API_KEY"}


def _env_secrets() -> dict:
    """An EnvVar for each key variable that is set (Dagster resolves it at run time and never
    shows its value); unset ones are left out, so the offline demo needs no keys."""
    return {field: EnvVar(variable) for field, variable in KEY_VARIABLES.items()
            if os.environ.get(variable)}


def model_registry(settings: Settings | None = None) -> ModelRegistry:
    """The registry file named by LLM_MIGRATE_MODELS (else the demo's), with the keys."""
    settings = settings or Settings.from_env()
    return ModelRegistry.from_file(settings.registry_file, **_env_secrets())


def resources(settings: Settings | None = None) -> dict:
    settings = settings or Settings.from_env()
    return {
        "warehouse": Warehouse(database=settings.database),
        "models": model_registry(settings),
        "sources": DataSources(traffic=settings.traffic, labels=settings.labels,
                               demo_dir=settings.demo_dir),
        "bi": BISnapshot(path=settings.bi_snapshot),
        "artifacts": Artifacts(root=settings.artifacts_root),
    }


def definitions(**replaced_resources) -> Definitions:
    """The code location, with any of its resources replaced (e.g. ``models=``)."""
    return Definitions(
        assets=[*ALL_ASSETS, bi_snapshot],
        asset_checks=ALL_CHECKS,
        resources={**resources(), **replaced_resources},
        jobs=JOBS,
        schedules=SCHEDULES,
        sensors=SENSORS,
        executor=in_process_executor,
        # console: Dagster's default; stages: one line per step, for in-process commands
        loggers={"console": colored_console_logger, "stages": stages},
    )


defs = definitions()
