"""Partitions shared by assets: one per model of the registry (dynamic, so adding a candidate
adds a partition, and a backfill of that partition replays the sample for it)."""

from dagster import DagsterInstance, DynamicPartitionsDefinition

# Dagster's run tags for a partition range: plain strings, so no private module is imported.
ASSET_PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
ASSET_PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"

MODEL_PARTITIONS = DynamicPartitionsDefinition(name="model")


def ensure_model_partitions(instance: DagsterInstance, names: list[str]) -> list[str]:
    """Register a partition for every model name not yet known; return the new names."""
    known = set(instance.get_dynamic_partitions(MODEL_PARTITIONS.name))
    new = [name for name in names if name not in known]
    if new:
        instance.add_dynamic_partitions(MODEL_PARTITIONS.name, new)
    return new


def all_models_tags(instance: DagsterInstance) -> dict[str, str]:
    """Run tags that make one run cover every model partition: replay_responses then sees
    them all in one step and replays them one after another (a backfill instead launches a
    run per model, which may run side by side)."""
    keys = instance.get_dynamic_partitions(MODEL_PARTITIONS.name)
    if not keys:
        raise ValueError("no model partitions yet: register the models first")
    return {ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]}
