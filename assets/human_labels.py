"""human_labels: validated human judgments, each tied to the text it judged; malformed rows go
to `label_quarantine`. Two blocking checks keep bad label data from any fit: a file that is
mostly malformed (`label_files_valid`), and a candidate x dimension x region without the labels
the paired model needs (`labels_cover_every_slice`)."""

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field, model_validator

from assets.metadata import table_metadata
from assets.progress import logged
from assets.replay_responses import replay_responses
from assets.traffic_sample import traffic_sample
from pipeline.data.labels import LabelFileError, read_label_file, validate_labels
from pipeline.data.markdown import markdown_table
from pipeline.data.warehouse import insert_frame, read_query, transaction
from pipeline.replay.redaction import redact
from pipeline.stats.agreement import annotator_agreement
from resources import DataSources, ModelRegistry, Warehouse

FILES_CHECK = "label_files_valid"
COVERAGE_CHECK = "labels_cover_every_slice"
SHOWN = 10  # slices or files named in a check's message; the metadata table has them all


class LabelsConfig(Config):
    warn_quarantined_share: float = Field(0.05, ge=0, le=1, description=(
        "label_files_valid warns when more than this share of a label file's rows is "
        "quarantined (table label_quarantine says why)"))
    max_quarantined_share: float = Field(0.25, ge=0, le=1, description=(
        "label_files_valid fails, and blocks every fit and decision, when more than this "
        "share of a label file's rows is quarantined: the export is broken (wrong columns, "
        "scale or ids); fix it and run again"))
    min_labelled_requests: int = Field(1, ge=1, description=(
        "labels_cover_every_slice fails, and blocks every fit and decision, when a candidate "
        "x dimension x region has fewer requests labelled for both the candidate and the "
        "incumbent: the paired model estimates each region's metric bias from that region's "
        "labels alone, and needs at least one such request"))

    @model_validator(mode="after")
    def _warn_below_block(self):
        if self.warn_quarantined_share > self.max_quarantined_share:
            raise ValueError("warn_quarantined_share must not exceed max_quarantined_share")
        return self


def _answers_and_bindings(conn, source: str):
    """The answers of record, and the texts this file's labels were tied to when last read."""
    answers = {(r, m): h for r, m, h in conn.execute(
        "SELECT request_id, model, response_hash FROM v_answers WHERE status = 'ok'").fetchall()}
    bound = {(r, m, d, a, t): h for r, m, d, a, t, h in conn.execute(
        "SELECT request_id, model, dimension, annotator, labeled_at, response_hash "
        "FROM human_labels WHERE source = ? AND response_hash IS NOT NULL", [source]).fetchall()}
    return answers, bound


@asset(deps=[traffic_sample, replay_responses], group_name="labels", kinds={"duckdb"},
       metadata=table_metadata("human_labels"),
       check_specs=[
           AssetCheckSpec(FILES_CHECK, asset="human_labels", blocking=True,
                          description="No label file has more than max_quarantined_share of "
                                      "its rows quarantined (warns above "
                                      "warn_quarantined_share); blocks every fit"),
           AssetCheckSpec(COVERAGE_CHECK, asset="human_labels", blocking=True,
                          description="Every candidate x dimension x region has at least "
                                      "min_labelled_requests requests labelled for both the "
                                      "candidate and the incumbent; blocks every fit")],
       description="Human labels joined to the answers they judged (table `human_labels`); "
                   "bad rows are kept in `label_quarantine` with the file, row, field and "
                   "reason (their label columns only, redacted). A batch of label files is "
                   "ingested whole or not at all. Labels of a text that has since changed "
                   "enter no fit.")
def human_labels(
    context: AssetExecutionContext, config: LabelsConfig, sources: DataSources,
    models: ModelRegistry, warehouse: Warehouse,
):
    with warehouse.connect() as conn:
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
        with warehouse.connect() as conn:
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
    with warehouse.connect() as conn:
        current = conn.execute("SELECT * FROM v_current_labels").df()
        stale = conn.execute("SELECT count(*) FROM human_labels").fetchone()[0] - len(current)
        coverage = conn.execute(read_query("request_counts"),
                                {"incumbent": models.incumbent}).df()
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
    yield MaterializeResult(metadata={"files": counts, "labels_by_dimension": by_dimension,
                                      "labels_of_changed_texts": int(stale),
                                      "annotator_agreement": agreement_by_dimension,
                                      "dagster/row_count": len(current)})
    yield logged(context, files_check(counts, config))
    yield logged(context, coverage_check(coverage, models.incumbent, config.min_labelled_requests))


def files_check(counts: dict[str, dict[str, int]], config: LabelsConfig) -> AssetCheckResult:
    """label_files_valid from each file's labels and quarantined rows: failed with ERROR
    (blocking) above max_quarantined_share, with WARN above warn_quarantined_share."""
    shares = pd.DataFrame([{"file": source, "rows": n["labels"] + n["quarantined"],
                            "quarantined": n["quarantined"]} for source, n in counts.items()],
                          columns=["file", "rows", "quarantined"])
    shares["share"] = (shares["quarantined"] / shares["rows"].where(shares["rows"] > 0)).fillna(0)
    broken = shares[shares["share"] > config.max_quarantined_share]
    noisy = shares[shares["share"] > config.warn_quarantined_share]
    metadata = {"warn_quarantined_share": config.warn_quarantined_share,
                "max_quarantined_share": config.max_quarantined_share,
                "files": MetadataValue.md(markdown_table(shares.round({"share": 4}))
                                          if len(shares) else "no label file")}
    if noisy.empty:
        return AssetCheckResult(
            check_name=FILES_CHECK, passed=True, metadata=metadata,
            description=f"{len(shares)} label files, none with more than "
                        f"{config.warn_quarantined_share:.0%} of its rows quarantined")
    worst = broken if len(broken) else noisy
    named = "; ".join(f"{row.file}: {row.quarantined} of {row.rows} rows quarantined "
                      f"({row.share:.0%})" for row in worst.head(SHOWN).itertuples())
    more = f" and {len(worst) - SHOWN} more files" if len(worst) > SHOWN else ""
    if len(broken):
        description = (f"{named}{more}: above max_quarantined_share "
                       f"{config.max_quarantined_share:.0%}, so no fit or decision uses this "
                       "batch. The export is broken: read the reasons in table "
                       "label_quarantine (file, row, field), fix the file (columns, score "
                       "scale, request ids, model names) and run again")
    else:
        description = (f"{named}{more}: above warn_quarantined_share "
                       f"{config.warn_quarantined_share:.0%}; the other rows are used. Table "
                       "label_quarantine says why each row was rejected")
    return AssetCheckResult(
        check_name=FILES_CHECK, passed=False, metadata=metadata, description=description,
        severity=AssetCheckSeverity.ERROR if len(broken) else AssetCheckSeverity.WARN)


def coverage_check(coverage: pd.DataFrame, incumbent: str, minimum: int) -> AssetCheckResult:
    """labels_cover_every_slice from the request_counts query (labelled and unlabelled
    requests per candidate, dimension and region): every region where both models answered
    needs ``minimum`` requests labelled for both."""
    regions = coverage[coverage["region"].notna()]
    short = regions[regions["labelled"] < minimum].sort_values(["candidate", "dimension",
                                                                 "region"])
    metadata = {"min_labelled_requests": minimum, "slices": len(regions),
                "short": MetadataValue.md(markdown_table(short) if len(short) else "none")}
    if regions.empty:
        return AssetCheckResult(
            check_name=COVERAGE_CHECK, passed=False, metadata=metadata,
            description="no request is labelled for both the incumbent and a candidate (or no "
                        "candidate has answers): nothing can be compared. Check the label "
                        "source (LLM_MIGRATE_LABELS) and table label_quarantine")
    if short.empty:
        return AssetCheckResult(
            check_name=COVERAGE_CHECK, passed=True, metadata=metadata,
            description=f"all {len(regions)} candidate x dimension x region slices have at "
                        f"least {minimum} requests labelled for both models")
    named = "; ".join(f"{row.candidate!r} on {row.dimension} in region {row.region!r}: "
                      f"{row.labelled} of {row.labelled + row.unlabelled} requests labelled "
                      "for both models" for row in short.head(SHOWN).itertuples())
    more = f" and {len(short) - SHOWN} more slices" if len(short) > SHOWN else ""
    return AssetCheckResult(
        check_name=COVERAGE_CHECK, passed=False, metadata=metadata,
        description=f"{named}{more}: the paired model needs at least {minimum} per region "
                    "(each region's metric bias rests on its own labels), so no fit or "
                    f"decision is made. Label some of these requests for both the candidate "
                    f"and the incumbent {incumbent!r} on that dimension (any of them: the "
                    "label plan then says how many more)")
