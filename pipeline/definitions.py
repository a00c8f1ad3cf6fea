"""The Dagster code location: assets, resources, jobs and schedules.

DuckDB allows one writer per file, so every job runs its steps in one process
(``in_process_executor``); the same definitions work against MotherDuck or a warehouse.
"""

import os

from dagster import (
    AddDynamicPartitionsRequest,
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    EnvVar,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    define_asset_job,
    in_process_executor,
    schedule,
    sensor,
)
from pydantic import ValidationError

from assets import ALL_ASSETS
from assets.partitions import MODEL_PARTITIONS, all_models_tags
from pipeline import settings
from resources import DataSources, ModelConfig, ModelRegistry, ProviderLimits, Warehouse


def _env_secret(name: str):
    """An EnvVar when the variable is set (Dagster resolves it at run time and never shows
    its value), else None so that the offline demo needs no keys."""
    return EnvVar(name) if os.environ.get(name) else None


_REGISTRY_KEYS = {"incumbent", "models", "offline", "concurrency", "rpm", "tpm", "provider_limits"}


def model_registry() -> ModelRegistry:
    config = settings.registry()
    source = os.environ.get("LLM_MIGRATE_MODELS") or "the demo registry"
    unknown = sorted(set(config) - _REGISTRY_KEYS)
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {unknown}; known: {sorted(_REGISTRY_KEYS)}")
    try:
        return _registry_from(config)
    except ValueError as exc:  # a pydantic ValidationError too: it names the field
        raise ValueError(f"{source}: {exc}") from exc


def _model_config(index: int, entry) -> ModelConfig:
    if not isinstance(entry, dict):
        raise ValueError(f"models[{index}] must be a mapping, not {entry!r}")
    try:
        return ModelConfig(**entry)
    except ValidationError as exc:
        raise ValueError(f"models[{index}] ({entry.get('name', 'unnamed')}): {exc}") from exc


def _registry_from(config: dict) -> ModelRegistry:
    return ModelRegistry(
        incumbent=config["incumbent"],
        models=[_model_config(i, entry) for i, entry in enumerate(config["models"])],
        offline=bool(config.get("offline", False)),
        concurrency=config.get("concurrency", 16),
        rpm=config.get("rpm"),
        tpm=config.get("tpm"),
        provider_limits=ProviderLimits(**config.get("provider_limits", {})),
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
    "migration_job", AssetSelection.all(),
    description="Sample, replay (every model partition in one run), score, calibrate, decide.",
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


@sensor(minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING)
def model_partitions_sensor(context: SensorEvaluationContext) -> SensorResult:
    """Keep one `model` partition per registry model. It only registers partitions; replaying
    a new candidate is a backfill of its partition (or the next scheduled replay)."""
    known = set(context.instance.get_dynamic_partitions(MODEL_PARTITIONS.name))
    new = [name for name in model_registry().names() if name not in known]
    requests = [AddDynamicPartitionsRequest(MODEL_PARTITIONS.name, new)] if new else []
    return SensorResult(dynamic_partitions_requests=requests)


@schedule(job=replay_and_score_job, cron_schedule="0 2 * * *",
          default_status=DefaultScheduleStatus.STOPPED)
def daily_replay_schedule(context: ScheduleEvaluationContext):
    """Every morning: sample, replay every model, score."""
    return RunRequest(tags=all_models_tags(context.instance))


defs = Definitions(
    assets=ALL_ASSETS,
    resources=resources(),
    jobs=[migration_job, replay_and_score_job, recalibration_job],
    schedules=[
        daily_replay_schedule,
        ScheduleDefinition(name="weekly_recalibration_schedule", job=recalibration_job,
                           cron_schedule="0 4 * * 1", default_status=DefaultScheduleStatus.STOPPED),
    ],
    sensors=[model_partitions_sensor],
    executor=in_process_executor,
)
