"""Jobs, schedules and the sensor that keeps one `model` partition per registry model."""

from dagster import (
    AddDynamicPartitionsRequest,
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    define_asset_job,
    schedule,
    sensor,
)

from assets.partitions import MODEL_PARTITIONS, all_models_tags
from resources import ModelRegistry

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
def model_partitions_sensor(context: SensorEvaluationContext,
                            models: ModelRegistry) -> SensorResult:
    """Keep one `model` partition per registry model. It only registers partitions; replaying
    a new candidate is a backfill of its partition (or the next scheduled replay)."""
    known = set(context.instance.get_dynamic_partitions(MODEL_PARTITIONS.name))
    new = [name for name in models.names() if name not in known]
    requests = [AddDynamicPartitionsRequest(MODEL_PARTITIONS.name, new)] if new else []
    return SensorResult(dynamic_partitions_requests=requests)


@schedule(job=replay_and_score_job, cron_schedule="0 2 * * *",
          default_status=DefaultScheduleStatus.STOPPED)
def daily_replay_schedule(context: ScheduleEvaluationContext):
    """Every morning: sample, replay every model, score."""
    return RunRequest(tags=all_models_tags(context.instance))


weekly_recalibration_schedule = ScheduleDefinition(
    name="weekly_recalibration_schedule", job=recalibration_job, cron_schedule="0 4 * * 1",
    default_status=DefaultScheduleStatus.STOPPED,
)

JOBS = [migration_job, replay_and_score_job, recalibration_job]
SCHEDULES = [daily_replay_schedule, weekly_recalibration_schedule]
SENSORS = [model_partitions_sensor]
