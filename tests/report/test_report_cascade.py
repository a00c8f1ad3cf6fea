"""The report's cascade section: drawn from the latest cascade_plan run when there is one, with
its curve as an inline plot, names from data escaped; absent (and out of the contents) when
no cascade was fitted."""

import duckdb
import pandas as pd

from pipeline.data.warehouse import apply_schema, insert_frame
from pipeline.report.build import report_context
from pipeline.report.evidence import gather
from pipeline.report.html import render

HOW = "5-fold cross-validation (seed 0): each item through thresholds fitted on the other 4 folds"


def _curve(run_id: str, fitted_at: str, cascade: list[str]) -> pd.DataFrame:
    points = 4
    return pd.DataFrame({
        "run_id": run_id, "fitted_at": pd.Timestamp(fitted_at, tz="UTC"),
        "cascade": " > ".join(cascade), "models": [cascade] * points, "point": range(points),
        "cost_weight": [0.0, 10.0, 100.0, 1000.0],
        "thresholds": [[-0.5], [-0.8], [-1.4], [float("-inf")]],
        "expected_error": [0.30, 0.31, 0.36, 0.45], "expected_cost": [4e-4, 3.5e-4, 3e-4, 2e-4],
        "measured_error": [0.32, 0.33, 0.37, 0.46], "measured_cost": [4e-4, 3.4e-4, 3e-4, 2e-4],
        "n_items": 120, "best_single_model": cascade[-1], "best_single_error": 0.31,
        "best_single_cost": 2.5e-4, "measured_on": HOW,
        "in_sample_error": [0.3, 0.3, 0.35, 0.45], "in_sample_cost": [4e-4, 3.4e-4, 3e-4, 2e-4],
        "confidence_sources": [["log-probability", "none"]] * points})


def test_the_latest_cascade_plan_is_a_section_with_its_curve(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        apply_schema(conn)
        insert_frame(conn, "cascade_curves", _curve("old", "2026-01-01", ["x", "y"]))
        insert_frame(conn, "cascade_curves",
                     _curve("new", "2026-02-01", ["small", "<b>large</b>"]))
        evidence = gather(conn)
    html = render(report_context(evidence))
    assert '<section id="cascade">' in html and '<a href="#cascade">' in html
    assert html.count('alt="Error-cost curve of the cascade') == 1  # the latest run only
    assert "small &gt; &lt;b&gt;large&lt;/b&gt;" in html and "<b>large" not in html
    assert 'src="data:image/png;base64,' in html.split('id="cascade"')[1]
    assert HOW in html and "small log-probability" in html
    assert "0.0004" in html  # costs in significant digits, not rounded to 0.000


def test_no_cascade_no_section(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        apply_schema(conn)
        evidence = gather(conn)
    html = render(report_context(evidence))
    assert 'id="cascade"' not in html and 'href="#cascade"' not in html
