"""What a person reads to decide a migration: figures of the evidence (``plots``: Δ's
posterior per region with the margin and the decision, the calibration against human labels,
a fit's worst parameter and its posterior predictive check, the replay's cost and latency),
the images inlined (``images``: data URIs, markdown images for Dagster's metadata), and the
migration report, one self-contained HTML page (``evidence`` reads a warehouse, ``build``
assembles the figures and tables, ``html`` renders the Jinja2 templates in ``templates/``).

Plain Python, no Dagster. Sits above the statistical core: may import ``pipeline.data``,
``pipeline.config`` and ``pipeline.stats`` (what the fits' inputs are, the diagnostics'
thresholds); never replay, scoring or demo. The ``migration_report`` asset and
``llm-migrate report`` call it (``build.migration_report``).
"""

# The report's file name under the artifacts root (the latest; each run's copy is under
# reports/<run id>/). Nothing is imported here, so reading it loads no plotting library.
REPORT_FILE = "migration_report.html"
# The folder under the artifacts root where cascade_plan keeps its curves' plots
# (cascade-N.png, the N-th cascade of the latest run; a copy per run under <run id>/).
CASCADE_PLOTS = "cascade_plan"
