"""llm-migrate: replay production traffic against candidate LLMs, calibrate automated scores
against human labels, and decide whether to migrate.

The modules in this package other than ``definitions`` are plain Python: they import no Dagster,
so the statistics and metrics can be used and tested alone.
"""
