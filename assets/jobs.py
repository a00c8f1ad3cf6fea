"""Jobs, schedules, the sensor that keeps one `model` partition per registry model, and the
sensor that recalibrates when new label files land."""

import hashlib
import json
from pathlib import Path

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
    SkipReason,
    define_asset_job,
    schedule,
    sensor,
)

from assets.partitions import MODEL_PARTITIONS, all_models_tags
from resources import DataSources, ModelRegistry
from resources.sources import DEMO

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

JOBS = [migration_job, replay_and_score_job, recalibration_job]
SCHEDULES = [daily_replay_schedule, weekly_recalibration_schedule]
SENSORS = [model_partitions_sensor, label_files_sensor]
