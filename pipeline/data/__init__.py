"""Data at the boundary: traffic sources read, checked and sampled by DuckDB (and production's
logged answers in them), human-label files, answers' identity (``answers``), the quality
dimensions, and the DuckDB warehouse (its schema, migrations and writes).

Imports nothing else of ``pipeline``: every other stage may import it.
"""
