"""Jobs, schedules, the sensor that keeps one `model` partition per registry model, and the
sensor that recalibrates when new label files land."""

import hashlib
import json
from pathlib import Path

from dagster import (
    AddDynamicPartitionsRequest,
    AssetSelection,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    RunStatusSensorContext,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    run_status_sensor,
    schedule,
    sensor,
)

from assets.partitions import MODEL_PARTITIONS, all_models_tags
from resources import DataSources, ModelRegistry
from resources.sources import DEMO

BI = AssetSelection.assets("bi_snapshot")
# Opt-in: the cascade alternative is materialized on request, never by the pipeline's jobs.
CASCADE = AssetSelection.assets("cascade_plan")
migration_job = define_asset_job(
    "migration_job", AssetSelection.all() - BI - CASCADE,
    description="Sample, replay (every model partition in one run), score, calibrate, decide.",
)
replay_and_score_job = define_asset_job(
    "replay_and_score_job",
    AssetSelection.assets("traffic_sample", "replay_responses", "auto_scores"),
    description="Replay newly sampled traffic and score it.",
)
recalibration_job = define_asset_job(
    "recalibration_job",
    AssetSelection.assets("human_labels").downstream() - BI - CASCADE,
    description="Re-read labels, refit the calibration and revisit the decision.",
)


bi_publish_job = define_asset_job(
    "bi_publish_job", BI, description="Publish the read-only BI snapshot of the warehouse.")
cascade_job = define_asset_job(
    "cascade_job", CASCADE,
    description="On request: the cascade alternative (cascade_plan) from the replayed answers "
                "and labels already in the warehouse.")


@run_status_sensor(run_status=DagsterRunStatus.SUCCESS, request_job=bi_publish_job,
                   monitored_jobs=[migration_job, replay_and_score_job, recalibration_job,
                                   cascade_job],
                   default_status=DefaultSensorStatus.RUNNING)
def bi_after_success(context: RunStatusSensorContext):
    """After every run that changed what BI reads, publish the snapshot again."""
    return RunRequest(run_key=f"bi-{context.dagster_run.run_id}")


@run_status_sensor(run_status=DagsterRunStatus.FAILURE, request_job=bi_publish_job,
                   monitored_jobs=[migration_job, replay_and_score_job, recalibration_job],
                   default_status=DefaultSensorStatus.RUNNING)
def bi_after_failure(context: RunStatusSensorContext):
    """A run stopped by a blocking check (drift, a failed fit) still changed what BI reads."""
    return RunRequest(run_key=f"bi-{context.dagster_run.run_id}")


@sensor(minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING)
def model_partitions_sensor(context: SensorEvaluationContext,
                            models: ModelRegistry) -> SensorResult:
    """Keep one `model` partition per registry model. It only registers partitions; replaying
    a new candidate is a backfill of its partition (or the next scheduled replay)."""
    known = set(context.instance.get_dynamic_partitions(MODEL_PARTITIONS.name))
    new = [name for name in models.names() if name not in known]
    requests = [AddDynamicPartitionsRequest(MODEL_PARTITIONS.name, new)] if new else []
    return SensorResult(dynamic_partitions_requests=requests)


def _file_states(paths: list[Path]) -> dict[str, list[int]]:
    states = {}
    for path in paths:
        try:
            stat = path.stat()
        except OSError:  # gone between the listing and now: seen on the next tick
            continue
        states[str(path)] = [stat.st_mtime_ns, stat.st_size]
    return states


@sensor(job=recalibration_job, minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.RUNNING)
def label_files_sensor(context: SensorEvaluationContext, sources: DataSources):
    """When a label file lands or changes under the label source (a file or a glob of CSV /
    Parquet exports), run recalibration_job: labels, drift check, refit, decision. A file seen
    before and unchanged (same modification time and size) starts nothing."""
    if sources.labels == DEMO:
        return SkipReason("the labels are the demo's, which do not change")
    states = _file_states([p for p in sources.label_files() if p.is_file()])
    seen = json.loads(context.cursor) if context.cursor else {}
    changed = sorted(path for path, state in states.items() if seen.get(path) != state)
    context.update_cursor(json.dumps(states, sort_keys=True))
    if not changed:
        return SkipReason("no new or changed label file")
    context.log.info(f"new or changed label files: {changed}")
    key = hashlib.sha256(json.dumps(states, sort_keys=True).encode()).hexdigest()
    return RunRequest(run_key=f"labels-{key[:16]}")


@schedule(job=replay_and_score_job, cron_schedule="0 2 * * *",
          default_status=DefaultScheduleStatus.STOPPED)
def daily_replay_schedule(context: ScheduleEvaluationContext):
    """Every morning: sample, replay every model, score."""
    return RunRequest(tags=all_models_tags(context.instance))


weekly_recalibration_schedule = ScheduleDefinition(
    name="weekly_recalibration_schedule", job=recalibration_job, cron_schedule="0 4 * * 1",
    default_status=DefaultScheduleStatus.STOPPED,
)

JOBS = [migration_job, replay_and_score_job, recalibration_job, bi_publish_job, cascade_job]
SCHEDULES = [daily_replay_schedule, weekly_recalibration_schedule]
SENSORS = [model_partitions_sensor, label_files_sensor, bi_after_success, bi_after_failure]
