"""The llm-migrate dashboards as an Apache Superset import bundle (README, "BI").

One dashboard per question a BI user asks, each a chart and the table of its numbers, over the
views of the BI snapshot (sql/views/): the verdict per candidate; Δ with its interval per region
and dimension against the margin; labels used and needed; drift status; replay cost and latency
per model; how each changed over runs. Superset imports the bundle (`superset
import-dashboards`); bi/superset_setup.py builds and imports it. The snapshot is opened
read-only with DuckDB's external access off, so SQL Lab cannot read files or the network.

Run with Superset's environment (bi/.venv): it needs duckdb and PyYAML only.
"""

from __future__ import annotations

import argparse
import io
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import yaml

ROOT = "llm_migrate_bi"
DATABASE_NAME = "llm-migrate BI snapshot"

# Datasets: the snapshot's views as they are (physical), or a query over them (virtual).
VIEWS = ["v_migration_verdict", "v_latest_decisions", "v_decision_history",
         "v_calibration_history", "v_drift_status", "v_replay_stats"]
QUERIES = {
    "label_counts": """
        -- per model and dimension: labels stored, of the answers of record
        -- (v_current_labels), and used by the fits (v_fit_labels)
        WITH stored AS (SELECT model, dimension, count(*) AS n FROM human_labels GROUP BY ALL),
             current AS (SELECT model, dimension, count(*) AS n FROM v_current_labels
                         GROUP BY ALL),
             used AS (SELECT model, dimension, count(*) AS n FROM v_fit_labels GROUP BY ALL)
        SELECT s.model, s.dimension, s.n AS stored, coalesce(c.n, 0) AS current,
               coalesce(u.n, 0) AS used_by_fits
        FROM stored s
        LEFT JOIN current c USING (model, dimension)
        LEFT JOIN used u USING (model, dimension)""",
    "drift_checks": """
        -- every drift check (drift_status keeps them all): monitors and alarms
        SELECT dense_rank() OVER (ORDER BY checked_at) AS check_run, checked_at,
               count(*) FILTER (WHERE alarm) AS alarms, count(*) AS monitors
        FROM drift_status
        GROUP BY checked_at""",
}

ALL_TRAFFIC = "region IS NULL"
REGIONS = "region IS NOT NULL"
THREE = ".3f"


def stable_uuid(kind: str, name: str) -> str:
    """The same asset gets the same id on every import, so a re-import updates it."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"llm-migrate-bi/{kind}/{name}"))


def metric(sql: str, label: str) -> dict:
    return {"expressionType": "SQL", "sqlExpression": sql, "label": label,
            "hasCustomLabel": True, "optionName": f"metric_{stable_uuid('metric', sql)[:8]}"}


def where(*conditions: str) -> list[dict]:
    return [{"expressionType": "SQL", "sqlExpression": c, "clause": "WHERE",
             "filterOptionName": f"filter_{i}"} for i, c in enumerate(conditions)]


def table(title: str, dataset: str, columns: list[str], *, filters=(), order=(),
          formats: dict[str, str] | None = None, height: int = 60) -> dict:
    """A table of raw rows: the numbers a chart shows, to read and copy."""
    return {"name": title, "dataset": dataset, "height": height, "params": {
        "viz_type": "table", "query_mode": "raw", "all_columns": columns,
        "adhoc_filters": where(*filters),
        "order_by_cols": [f'["{c}", true]' for c in order],
        "row_limit": 10000, "server_pagination": False, "page_length": 0,
        "include_search": False, "show_cell_bars": False,
        "table_timestamp_format": "%Y-%m-%d %H:%M:%S",
        "column_config": {c: {"d3NumberFormat": f} for c, f in (formats or {}).items()}}}


def chart(title: str, dataset: str, viz: str, *, x: str, metrics: list[dict],
          groupby=(), filters=(), height: int = 50, **extra) -> dict:
    """An ECharts chart over a categorical (or run-number) x axis."""
    return {"name": title, "dataset": dataset, "height": height, "params": {
        "viz_type": viz, "x_axis": x, "metrics": metrics, "groupby": list(groupby),
        "adhoc_filters": where(*filters), "row_limit": 10000, "show_legend": True,
        "legendOrientation": "top", "x_axis_sort_asc": True, "rich_tooltip": True,
        "y_axis_format": "SMART_NUMBER", "color_scheme": "supersetColors", **extra}}


def big_number(title: str, dataset: str, sql: str, label: str) -> dict:
    return {"name": title, "dataset": dataset, "height": 25, "params": {
        "viz_type": "big_number_total", "metric": metric(sql, label), "adhoc_filters": [],
        "subheader": label, "y_axis_format": ",d"}}


def quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def delta_chart(candidate: str, dimension: str) -> dict:
    """Δ's posterior mean and central interval per region against −margin, for one slice."""
    return chart(f"Δ per region: {candidate}, {dimension}", "v_latest_decisions",
                 "echarts_timeseries_scatter", x="region",
                 metrics=[metric("min(ci_low)", "interval low"),
                          metric("avg(delta_mean)", "Δ mean"),
                          metric("max(ci_high)", "interval high"),
                          metric("max(-margin)", "−margin")],
                 filters=[REGIONS, f"candidate = {quoted(candidate)}",
                          f"dimension = {quoted(dimension)}"],
                 markerSize=10, y_axis_format=".2f", height=45)


def dashboards(slices: list[tuple[str, str]]) -> list[dict]:
    """The dashboards: slug, title, the question it answers, its charts in order."""
    decision_numbers = {"delta_mean": THREE, "ci_low": THREE, "ci_high": THREE,
                        "margin": THREE, "p_better": THREE}
    return [
        {"slug": "verdict", "title": "Verdict per candidate",
         "charts": [
             table("Verdict per candidate", "v_migration_verdict",
                   ["candidate", "incumbent", "verdict", "labels_needed", "plan",
                    "by_dimension", "blocking_regions", "fitted_at"],
                   order=["candidate"], height=50),
             chart("P(Δ > −margin) per dimension, all traffic", "v_latest_decisions",
                   "echarts_timeseries_bar", x="dimension",
                   metrics=[metric("max(p_better)", "P(Δ > −margin)")],
                   groupby=["candidate"], filters=[ALL_TRAFFIC], show_value=True,
                   y_axis_format=".3f", y_axis_bounds=[0, 1])]},
        {"slug": "delta", "title": "Δ per region and dimension",
         "charts": [
             table("Δ over all traffic", "v_latest_decisions",
                   ["candidate", "dimension", "delta_mean", "ci_low", "ci_high", "margin",
                    "p_better", "prob", "decision"],
                   filters=[ALL_TRAFFIC], order=["candidate", "dimension"],
                   formats=decision_numbers, height=40),
             *[delta_chart(c, d) for c, d in slices],
             table("Δ per region", "v_latest_decisions",
                   ["candidate", "dimension", "region", "delta_mean", "ci_low", "ci_high",
                    "margin", "p_better", "decision"],
                   filters=[REGIONS], order=["candidate", "dimension", "region"],
                   formats=decision_numbers, height=90)]},
        {"slug": "labels", "title": "Labels used and needed",
         "charts": [
             chart("Labelled requests and labels needed, all traffic", "v_latest_decisions",
                   "echarts_timeseries_bar", x="dimension",
                   metrics=[metric("sum(labelled_requests)", "labelled requests"),
                            metric("sum(coalesce(labels_needed, 0))", "labels needed")],
                   groupby=["candidate"], filters=[ALL_TRAFFIC], show_value=True),
             table("Labels per slice", "v_latest_decisions",
                   ["candidate", "dimension", "region", "decision", "n_labels",
                    "labelled_requests", "unlabelled_requests", "labels_needed", "plan",
                    "settle_prob"],
                   order=["candidate", "dimension", "region"], formats={"settle_prob": ".2f"},
                   height=90),
             table("Labels per model: stored, current, used by the fits", "label_counts",
                   ["model", "dimension", "stored", "current", "used_by_fits"],
                   order=["model", "dimension"], height=40)]},
        {"slug": "drift", "title": "Drift status",
         "charts": [
             big_number("Monitors in alarm", "v_drift_status",
                        "count(*) FILTER (WHERE alarm)", "monitors in alarm"),
             table("Latest drift check per slice", "v_drift_status",
                   ["candidate", "dimension", "region", "alarm", "alarm_at", "drifted",
                    "n_reference", "n_stream", "alpha", "method", "checked_at"],
                   order=["candidate", "dimension", "region"], formats={"alpha": ".4f"},
                   height=90)]},
        {"slug": "replay", "title": "Replay cost and latency",
         "charts": [
             chart("Cost per model (USD)", "v_replay_stats", "echarts_timeseries_bar",
                   x="model", metrics=[metric("sum(cost_usd)", "cost (USD)")],
                   groupby=["source"], show_value=True, y_axis_format="$,.4f"),
             chart("Latency per model (ms)", "v_replay_stats", "echarts_timeseries_bar",
                   x="model", metrics=[metric("max(latency_p50_ms)", "p50 latency (ms)"),
                                       metric("max(latency_p95_ms)", "p95 latency (ms)")],
                   show_value=True, y_axis_format=",.1f"),
             table("Replay statistics per model and source", "v_replay_stats",
                   ["model", "source", "requests", "succeeded", "error_rate",
                    "latency_p50_ms", "latency_p95_ms", "tokens_in", "tokens_out", "cost_usd"],
                   order=["model", "source"],
                   formats={"error_rate": ".1%", "latency_p50_ms": ",.1f",
                            "latency_p95_ms": ",.1f", "cost_usd": ",.4f"}, height=30)]},
        {"slug": "history", "title": "Changes over runs",
         "charts": [
             chart("Δ over decision runs, all traffic", "v_decision_history",
                   "echarts_timeseries_line", x="run",
                   metrics=[metric("avg(delta_mean)", "Δ mean")],
                   groupby=["candidate", "dimension"], filters=[ALL_TRAFFIC], markerEnabled=True,
                   xAxisForceCategorical=True, y_axis_format=".2f"),
             table("Decisions over runs, all traffic", "v_decision_history",
                   ["run", "candidate", "dimension", "decision", "changed", "delta_mean",
                    "ci_low", "ci_high", "p_better", "labelled_requests", "labels_needed",
                    "fitted_at"],
                   filters=[ALL_TRAFFIC], order=["run", "candidate", "dimension"],
                   formats={"delta_mean": THREE, "ci_low": THREE, "ci_high": THREE,
                            "p_better": THREE}, height=60),
             table("Fits behind Δ over runs, all traffic", "v_calibration_history",
                   ["run", "candidate", "dimension", "method", "delta_mean", "delta_sd",
                    "max_r_hat", "min_ess_bulk", "divergences", "failures"],
                   filters=[ALL_TRAFFIC], order=["run", "candidate", "dimension"],
                   formats={"delta_mean": THREE, "delta_sd": THREE, "max_r_hat": THREE,
                            "min_ess_bulk": ",.0f"}, height=60),
             table("Drift checks over runs", "drift_checks",
                   ["check_run", "checked_at", "alarms", "monitors"], order=["check_run"],
                   height=30)]},
    ]


def dataset_columns(conn: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    """Superset's column list of a dataset, from DuckDB's own description of it."""
    described = conn.execute(f"DESCRIBE {sql}").fetchall()
    return [{"column_name": name, "type": kind, "is_dttm": kind.startswith(("TIMESTAMP", "DATE")),
             "groupby": True, "filterable": True, "is_active": True, "expression": None,
             "description": None, "verbose_name": None, "python_date_format": None}
            for name, kind, *_ in described]


def bundle_files(snapshot: Path) -> dict[str, dict]:
    """Every YAML file of the import bundle, by its path inside the bundle."""
    database_uuid = stable_uuid("database", DATABASE_NAME)
    files = {"metadata.yaml": {"version": "1.0.0", "type": "Dashboard",
                               "timestamp": datetime.now(UTC).isoformat()},
             "databases/llm_migrate.yaml": {
                 "database_name": DATABASE_NAME,
                 # read-only, and no file or network access from SQL (SQL Lab included)
                 "sqlalchemy_uri": f"duckdb:///{snapshot.resolve()}"
                                   "?access_mode=read_only&enable_external_access=false",
                 "expose_in_sqllab": True, "allow_run_async": False, "allow_ctas": False,
                 "allow_cvas": False, "allow_dml": False, "allow_csv_upload": False,
                 "cache_timeout": None, "extra": {"allows_virtual_table_explore": True},
                 "uuid": database_uuid, "version": "1.0.0"}}
    with duckdb.connect(str(snapshot), read_only=True) as conn:
        slices = conn.execute("SELECT DISTINCT candidate, dimension FROM v_latest_decisions "
                              "ORDER BY ALL").fetchall()
        for name in [*VIEWS, *QUERIES]:
            sql = QUERIES.get(name)
            files[f"datasets/llm_migrate/{name}.yaml"] = {
                "table_name": name, "schema": None if sql else "main", "sql": sql,
                "columns": dataset_columns(conn, f"({sql})" if sql else name), "metrics": [],
                "uuid": stable_uuid("dataset", name), "database_uuid": database_uuid,
                "version": "1.0.0", "offset": 0, "cache_timeout": None,
                "main_dttm_col": None, "params": None, "template_params": None}
    for board in dashboards(slices):
        files.update(dashboard_files(board))
    return files


def dashboard_files(board: dict) -> dict[str, dict]:
    """A dashboard's YAML and its charts', each chart on a row of its own."""
    files, position = {}, {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"type": "HEADER", "id": "HEADER_ID", "meta": {"text": board["title"]}}}
    for i, spec in enumerate(board["charts"]):
        chart_uuid = stable_uuid("chart", f"{board['slug']}/{spec['name']}")
        files[f"charts/{board['slug']}_{i}.yaml"] = {
            "slice_name": spec["name"], "viz_type": spec["params"]["viz_type"],
            "params": spec["params"], "query_context": None, "cache_timeout": None,
            "uuid": chart_uuid, "version": "1.0.0",
            "dataset_uuid": stable_uuid("dataset", spec["dataset"])}
        row, cell = f"ROW-{i}", f"CHART-{i}"
        position["GRID_ID"]["children"].append(row)
        position[row] = {"type": "ROW", "id": row, "children": [cell],
                         "parents": ["ROOT_ID", "GRID_ID"],
                         "meta": {"background": "BACKGROUND_TRANSPARENT"}}
        position[cell] = {"type": "CHART", "id": cell, "children": [],
                          "parents": ["ROOT_ID", "GRID_ID", row],
                          "meta": {"uuid": chart_uuid, "chartId": i + 1,  # replaced on import
                                   "width": 12, "height": spec["height"],
                                   "sliceName": spec["name"]}}
    files[f"dashboards/{board['slug']}.yaml"] = {
        "dashboard_title": board["title"], "slug": board["slug"], "description": None,
        "css": "", "published": True, "uuid": stable_uuid("dashboard", board["slug"]),
        "version": "1.0.0", "position": position,
        "metadata": {"color_scheme": "supersetColors", "refresh_frequency": 0,
                     "expanded_slices": {}, "label_colors": {},
                     "timed_refresh_immune_slices": [], "cross_filters_enabled": False,
                     "native_filter_configuration": [], "default_filters": "{}"}}
    return files


def write_bundle(snapshot: Path, out: Path) -> Path:
    """The import bundle (a zip of YAML files under one folder) for ``snapshot``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for path, content in bundle_files(snapshot).items():
            bundle.writestr(f"{ROOT}/{path}", yaml.safe_dump(content, sort_keys=False,
                                                             allow_unicode=True))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buffer.getvalue())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot", type=Path, required=True, help="the BI snapshot")
    parser.add_argument("--out", type=Path, required=True, help="the bundle (.zip) to write")
    args = parser.parse_args()
    if not args.snapshot.is_file():
        raise SystemExit(f"{args.snapshot}: no BI snapshot (make demo, or llm-migrate bi "
                         "publish, writes it)")
    print(write_bundle(args.snapshot, args.out))


if __name__ == "__main__":
    main()
