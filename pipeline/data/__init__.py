"""Data at the boundary: traffic files, human-label files, the quality dimensions, and the
DuckDB warehouse (its schema, migrations and writes).

Imports nothing else of ``pipeline``: every other stage may import it.
"""
