"""The Dagster code location: assets, resources, jobs and schedules.

DuckDB allows one writer per file, so every job runs its steps in one process
(``in_process_executor``); the same definitions work against MotherDuck or a warehouse.
"""

import os

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    EnvVar,
    ScheduleDefinition,
    define_asset_job,
    in_process_executor,
)

from assets import ALL_ASSETS
from pipeline import settings
from resources import DataSources, ModelConfig, ModelRegistry, Warehouse


def _env_secret(name: str):
    """An EnvVar when the variable is set (Dagster resolves it at run time and never shows
    its value), else None so that the offline demo needs no keys."""
    return EnvVar(name) if os.environ.get(name) else None


def model_registry() -> ModelRegistry:
    config = settings.registry()
    return ModelRegistry(
        incumbent=config["incumbent"],
        models=[ModelConfig(**m) for m in config["models"]],
        offline=bool(config.get("offline", False)),
        concurrency=int(config.get("concurrency", 16)),
        rpm=config.get("rpm"),
        tpm=config.get("tpm"),
        openai_api_key=_env_secret("OPENAI_API_KEY"),
        anthropic_api_key=_env_secret("ANTHROPIC_API_KEY"),
        openai_compatible_api_key=_env_secret("OPENAI_COMPATIBLE_API_KEY"),
    )


def resources() -> dict:
    return {
        "warehouse": Warehouse(database=settings.database()),
        "models": model_registry(),
        "sources": DataSources(
            traffic=os.environ.get("LLM_MIGRATE_TRAFFIC", "demo"),
            labels=os.environ.get("LLM_MIGRATE_LABELS", "demo"),
            demo_dir=str(settings.DATA_DIR / "demo"),
        ),
    }


migration_job = define_asset_job(
    "migration_job", AssetSelection.all(), description="Sample, replay, score, calibrate, decide."
)
replay_and_score_job = define_asset_job(
    "replay_and_score_job",
    AssetSelection.assets("traffic_sample", "replay_responses", "auto_scores"),
    description="Replay newly sampled traffic and score it.",
)
recalibration_job = define_asset_job(
    "recalibration_job",
    AssetSelection.assets("human_labels").downstream(),
    description="Re-read labels, refit the calibration and revisit the decision.",
)

defs = Definitions(
    assets=ALL_ASSETS,
    resources=resources(),
    jobs=[migration_job, replay_and_score_job, recalibration_job],
    schedules=[
        ScheduleDefinition(job=replay_and_score_job, cron_schedule="0 2 * * *",
                           default_status=DefaultScheduleStatus.STOPPED),
        ScheduleDefinition(job=recalibration_job, cron_schedule="0 4 * * 1",
                           default_status=DefaultScheduleStatus.STOPPED),
    ],
    executor=in_process_executor,
)
