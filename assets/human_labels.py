"""human_labels: validated human judgments; malformed rows go to `label_quarantine`."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from assets.traffic_sample import traffic_sample
from pipeline.data.labels import read_label_file, validate_labels
from pipeline.data.warehouse import replace_rows
from resources import DataSources, ModelRegistry, Warehouse


@asset(deps=[traffic_sample], group_name="labels",
       description="Human labels joined to traffic (table `human_labels`); bad rows are "
                   "kept in `label_quarantine` with the file, row, field and reason.")
def human_labels(
    context: AssetExecutionContext, sources: DataSources, models: ModelRegistry,
    warehouse: Warehouse,
) -> MaterializeResult:
    with warehouse.connect() as conn:
        request_ids = {r[0] for r in conn.execute("SELECT request_id FROM traffic").fetchall()}
    counts = {}
    for path in sources.label_files():
        checked = validate_labels(read_label_file(path), str(path), request_ids,
                                  set(models.names()))
        # Each file is the source of truth for its own rows: a re-export replaces them.
        with warehouse.connect() as conn:
            replace_rows(conn, "human_labels", checked.labels, "source = ?", (str(path),))
            replace_rows(conn, "label_quarantine", checked.quarantine, "source = ?", (str(path),))
        counts[str(path)] = {"labels": len(checked.labels), "quarantined": len(checked.quarantine)}
        for reason in checked.quarantine["reason"].head(20):
            context.log.warning(f"quarantined: {reason}")
    with warehouse.connect() as conn:
        by_dimension = dict(conn.execute(
            "SELECT dimension, count(*) FROM human_labels GROUP BY 1 ORDER BY 1").fetchall())
    return MaterializeResult(metadata={"files": counts, "labels_by_dimension": by_dimension})
