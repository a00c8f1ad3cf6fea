"""llm-migrate: replay production traffic against candidate LLMs, calibrate automated scores
against human labels, and decide whether to migrate.

The plain-Python layer: nothing here imports Dagster, ``assets`` or ``resources``, except the
command line (``pipeline.cli``), the shell over both layers. One sub-package per stage:

| package | stage | may import |
|---|---|---|
| ``data`` | traffic, labels, answers' identity, the warehouse | nothing of pipeline |
| ``replay`` | redaction, online and batch replay, the response store | data |
| ``scoring`` | ROUGE-L, BERTScore, refusal, style, LLM judge, replay fidelity | replay |
| ``stats`` | calibration, comparison, decision, predictive, active labelling, drift | data |
| ``demo`` | the demo world and its offline provider | data |
| ``report`` | figures and the migration report (HTML) | data, stats |
| ``cli`` | the ``llm-migrate`` command | everything |

``config`` (settings from the environment, reading a registry file) imports no stage. The public
paths ``pipeline.compare``, ``pipeline.predictive``, ``pipeline.active_labelling`` and
``pipeline.drift`` re-export the statistical core. Nothing on the production path imports
``demo``; only an offline registry or the demo data source loads it.
"""

from pipeline._arviz_warning import stamp_arviz_daily_warning

stamp_arviz_daily_warning()
