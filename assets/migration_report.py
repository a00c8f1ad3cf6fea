"""migration_report: the decision and its evidence as one self-contained HTML page."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from assets.label_queue import label_queue
from assets.migration_decision import migration_decision
from pipeline.data.markdown import markdown_table
from pipeline.report import REPORT_FILE
from pipeline.report.build import report_context
from pipeline.report.evidence import gather, saved_fits
from pipeline.report.html import render
from resources import Artifacts, Warehouse


@asset(deps=[migration_decision, label_queue], group_name="inference",
       description="The migration report: verdicts, Δ per region and dimension with the "
                   "margins, labels used and needed, what to label next, diagnostics and "
                   "checks, drift, replay cost and latency, and the inputs, as one HTML file "
                   "(`migration_report.html` under the artifacts root, a copy per run under "
                   "`reports/<run id>/`).")
def migration_report(context: AssetExecutionContext, warehouse: Warehouse,
                     artifacts: Artifacts) -> MaterializeResult:
    with warehouse.connect() as conn:  # read everything, then let go of the warehouse
        evidence = gather(conn)
    store = artifacts.store()
    fits, note = saved_fits(store, evidence.fit_files)
    html = render(report_context(evidence, fits, fits_note=note))
    latest = store.write_text(html, REPORT_FILE)
    this_run = store.write_text(html, "reports", context.run_id, REPORT_FILE)
    context.log.info(f"migration report: {latest}")
    verdicts = evidence.verdicts
    return MaterializeResult(metadata={
        "report": MetadataValue.path(latest),
        "this_run": MetadataValue.path(this_run),
        "verdict": MetadataValue.md(markdown_table(
            verdicts[["candidate", "verdict", "labels_needed"]] if len(verdicts) else verdicts)),
        "fits_shown": len({id(idata) for idata in fits.values()}),
        "size_kb": round(len(html.encode()) / 1024, 1),
    })
