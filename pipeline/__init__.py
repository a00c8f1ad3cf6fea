"""llm-migrate: replay production traffic against candidate LLMs, calibrate automated scores
against human labels, and decide whether to migrate.

The plain-Python layer: nothing here imports Dagster, ``assets`` or ``resources``, except the
command line (``pipeline.cli``), the shell over both layers. One sub-package per stage:

| package | stage | may import |
|---|---|---|
| ``data`` | traffic, labels, the warehouse's schema and migrations | nothing of pipeline |
| ``replay`` | redaction, online and batch replay, the response store | data |
| ``scoring`` | ROUGE-L, BERTScore, refusal, style, the LLM judge | replay (the judge) |
| ``stats`` | calibration, paired/joint comparison, decision, predictive, active labelling | data |
| ``demo`` | the demo world and its offline provider | data |
| ``cli`` | the ``llm-migrate`` command | everything |

``config`` (settings from the environment, reading a registry file) imports no stage. The
public paths ``pipeline.compare``, ``pipeline.predictive`` and ``pipeline.active_labelling``
re-export the statistical core. Nothing on the production path imports ``demo``; only an
offline registry or the demo data source loads it.
"""
