"""Definition metadata shared by the assets: the warehouse table an asset writes, with its
columns as sql/tables documents them, so the UI shows the table's schema."""

from dagster import TableColumn, TableColumnConstraints, TableSchema

from pipeline.data.warehouse import table_columns


def table_metadata(table: str) -> dict:
    """``dagster/table_name`` and ``dagster/column_schema`` of warehouse table ``table``."""
    return {
        "dagster/table_name": table,
        "dagster/column_schema": TableSchema(columns=[
            TableColumn(column["name"], column["type"], description=column["description"] or None,
                        constraints=TableColumnConstraints(nullable=column["nullable"]))
            for column in table_columns(table)]),
    }
