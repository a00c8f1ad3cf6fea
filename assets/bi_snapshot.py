"""bi_snapshot: the read-only copy of the warehouse that BI tools open, published after every
run (the sensor in assets/jobs.py), so a dashboard never holds the warehouse's lock."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from pipeline.data.snapshot import publish_snapshot
from resources import BISnapshot, Warehouse


@asset(group_name="bi", kinds={"duckdb"},
       description="A read-only DuckDB file with every table and view, in the storage format "
                   "DuckDB 1.4+ clients read, swapped in atomically (LLM_MIGRATE_BI_SNAPSHOT).")
def bi_snapshot(context: AssetExecutionContext, warehouse: Warehouse,
                bi: BISnapshot) -> MaterializeResult:
    with warehouse.connect() as conn:
        published = publish_snapshot(conn, bi.path)
    context.log.info(f"BI snapshot published: {published}")
    return MaterializeResult(metadata={**published, "path": MetadataValue.path(published["path"])})
