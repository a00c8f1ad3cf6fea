"""The report shows each fit's worst parameter and its posterior predictive check when the
fits are at hand (one figure pair per fit, however many candidates share it)."""

import arviz as az
import duckdb
import numpy as np

from pipeline.data.warehouse import apply_schema
from pipeline.report.build import report_context
from pipeline.report.evidence import gather
from pipeline.report.html import render


def fit(seed: int):
    rng = np.random.default_rng(seed)
    return az.from_dict(posterior={"beta": rng.normal(size=(2, 200, 2)),
                                   "sigma": np.abs(rng.normal(1, 0.1, (2, 200)))},
                        posterior_predictive={"y": rng.normal(size=(2, 50, 60))},
                        observed_data={"y": rng.normal(size=60)})


def test_each_fit_is_drawn_once_with_its_checks(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        apply_schema(conn)
        evidence = gather(conn)
    joint, pair = fit(0), fit(1)
    fits = {("cand-a", "style"): joint, ("<b>cand-b</b>", "style"): joint,
            ("cand-a", "refusal"): pair}
    html = render(report_context(evidence, fits))
    assert html.count('alt="Trace and rank plot of beta') + html.count(
        'alt="Trace and rank plot of sigma') == 2
    assert html.count('alt="Posterior predictive check"') == 2
    assert "&lt;b&gt;cand-b&lt;/b&gt;, cand-a, style" in html and "<b>cand-b" not in html
    assert "No saved fit at hand" not in html
