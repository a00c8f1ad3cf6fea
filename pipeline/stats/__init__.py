"""The statistical core: calibration of automated scores against human labels
(``calibration``), the paired comparison (``compare``) and the joint model of several
candidates (``joint``) with what they share (``sampling``), Δ per region (``paired_deltas``),
the decision rule (``decision``), single-pass predictive moments (``predictive``), the
comparison fits' posterior predictive checks (``predictive_check``), active
labelling (``active_labelling``), the calibration drift monitor (``drift``, run over every
slice by ``drift_slices``), annotator agreement (``agreement``) and the cascade alternative
(``cascade``).

May import ``pipeline.data``; never replay, scoring, demo, Dagster or I/O. The public paths are
``pipeline.compare``, ``pipeline.predictive``, ``pipeline.active_labelling``,
``pipeline.drift`` and ``pipeline.cascade``.
"""
