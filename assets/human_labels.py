"""human_labels: validated human judgments, each tied to the text it judged; malformed rows go
to `label_quarantine`."""

from dagster import AssetExecutionContext, Failure, MaterializeResult, asset

from assets.replay_responses import replay_responses
from assets.traffic_sample import traffic_sample
from pipeline.data.labels import LabelFileError, read_label_file, validate_labels
from pipeline.data.warehouse import insert_frame, transaction
from pipeline.replay.redaction import redact
from pipeline.stats.agreement import annotator_agreement
from resources import DataSources, ModelRegistry, Warehouse


def _answers_and_bindings(conn, source: str):
    """The answers of record, and the texts this file's labels were tied to when last read."""
    answers = {(r, m): h for r, m, h in conn.execute(
        "SELECT request_id, model, response_hash FROM v_answers WHERE status = 'ok'").fetchall()}
    bound = {(r, m, d, a, t): h for r, m, d, a, t, h in conn.execute(
        "SELECT request_id, model, dimension, annotator, labeled_at, response_hash "
        "FROM human_labels WHERE source = ? AND response_hash IS NOT NULL", [source]).fetchall()}
    return answers, bound


@asset(deps=[traffic_sample, replay_responses], group_name="labels",
       description="Human labels joined to the answers they judged (table `human_labels`); "
                   "bad rows are kept in `label_quarantine` with the file, row, field and "
                   "reason (their label columns only, redacted). A batch of label files is "
                   "ingested whole or not at all. Labels of a text that has since changed "
                   "enter no fit.")
def human_labels(
    context: AssetExecutionContext, sources: DataSources, models: ModelRegistry,
    warehouse: Warehouse,
) -> MaterializeResult:
    with warehouse.read() as conn:
        request_ids = {r[0] for r in conn.execute("SELECT request_id FROM traffic").fetchall()}
    # Every file is read and checked before anything is written: a batch of label files goes
    # in whole or not at all, and a file that cannot be read stops the run naming it.
    checked = {}
    for path in sources.label_files():
        try:
            raw = read_label_file(path)
        except LabelFileError as error:
            raise Failure(f"{error}; no label file of this batch was ingested "
                          f"({len(checked)} read before it)") from None
        with warehouse.read() as conn:
            answers, bound = _answers_and_bindings(conn, str(path))
        checked[str(path)] = validate_labels(raw, str(path), request_ids, set(models.names()),
                                             answers, bound, redact=redact)
    # Each file is the source of truth for its own rows: a re-export replaces them.
    with warehouse.connect() as conn, transaction(conn):
        for source, result in checked.items():
            for table, rows in (("human_labels", result.labels),
                                ("label_quarantine", result.quarantine)):
                conn.execute(f"DELETE FROM {table} WHERE source = ?", [source])
                insert_frame(conn, table, rows)
    counts = {source: {"labels": len(result.labels), "quarantined": len(result.quarantine)}
              for source, result in checked.items()}
    # One warning per file, naming its first few bad rows: every row is in label_quarantine.
    for source, result in checked.items():
        if len(result.quarantine):
            first = "; ".join(result.quarantine["reason"].head(3))
            context.log.warning(f"{source}: {len(result.quarantine)} rows quarantined (table "
                                f"label_quarantine), for example: {first}")
    with warehouse.read() as conn:
        current = conn.execute("SELECT * FROM v_current_labels").df()
        stale = conn.execute("SELECT count(*) FROM human_labels").fetchone()[0] - len(current)
    by_dimension = {dimension: int(n) for dimension, n
                    in current["dimension"].value_counts().sort_index().items()}
    agreement = annotator_agreement(current)
    if stale:
        context.log.warning(f"{stale} labels judged a text that has since changed (a refreshed "
                            "replay or a new logged answer): they enter no fit; label the "
                            "current texts (the label queue lists what is needed)")
    # Several annotators of one response are all kept; how far they agree, per dimension:
    agreement_by_dimension = {
        row.dimension: {"krippendorff_alpha": None if row.alpha != row.alpha
                        else round(row.alpha, 4), "level": row.level,
                        "responses_with_several_labels": row.responses}
        for row in agreement.itertuples()}
    return MaterializeResult(metadata={"files": counts, "labels_by_dimension": by_dimension,
                                       "labels_of_changed_texts": int(stale),
                                       "annotator_agreement": agreement_by_dimension})
