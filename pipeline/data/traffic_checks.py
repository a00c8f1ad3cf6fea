"""What a traffic row must be, in SQL over the view ``traffic_source``: each column read as the
``traffic`` table wants it, and the checks over the whole source, each naming the first bad row
(file, row, field) as :class:`~pipeline.data.traffic_source.TrafficFileError`.

Each check is a condition true on a bad row, and a cheaper one true on every bad row that
DuckDB can often answer from the statistics Parquet files and DuckDB tables keep per row group
(a prompt that is empty or only white space sorts before ``'!'`` or starts with a Unicode
space): on a clean Parquet source most checks read no data at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.data.traffic_source import VIEW, OpenedSource, TrafficFileError, sql_string

REQUIRED = ("request_id", "ts", "region", "prompt")
# Free-text optional fields: an empty cell, a blank string and a missing value all mean absent.
OPTIONAL_TEXT = ("language", "system", "reference", "model")
NUMBERS = ("latency_ms", "tokens_in", "tokens_out", "cost_usd")
TRUE, FALSE = ("true", "1", "1.0"), ("false", "0", "0.0", "")
TEXT_TYPES = ("VARCHAR",)
TIME_TYPES = ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS", "TIMESTAMP_MS",
              "TIMESTAMP_S", "DATE")
NUMBER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE")
# Python's white space (str.isspace), as RE2 spells it: what strip() removes.
BLANK = r"'[\t-\r\x{1C}-\x{20}\x{85}\p{Z}]*'"
# The first characters of blank text: ASCII below '!', and the Unicode spaces' ranges.
BLANK_STARTS = ((0, 33), (0x85, 0xA1), (0x1680, 0x1681), (0x2000, 0x2060), (0x3000, 0x3001))
WHITE_SPACE = "' \t\r\n\f\v'"


@dataclass(frozen=True)
class Columns:
    """The source's columns (name -> DuckDB type) and SQL reading each field as the ``traffic``
    table and production's logged answers want it."""

    types: dict[str, str]

    def raw(self, field: str) -> str:
        return f'"{field}"' if field in self.types else "NULL"

    def text(self, field: str) -> str:
        return f'CAST("{field}" AS VARCHAR)' if field in self.types else "NULL::VARCHAR"

    def optional_text(self, field: str) -> str:
        """None where the field is absent, empty or white space."""
        value = self.text(field)
        return f"CASE WHEN {blank(value)} THEN NULL ELSE {value} END"

    def ts(self) -> str:
        """UTC time: a time without a zone is UTC, a date alone midnight UTC."""
        kind = self.types.get("ts")
        if kind in TIME_TYPES:
            return 'CAST("ts" AS TIMESTAMPTZ)'
        return f"TRY_CAST({self.text('ts')} AS TIMESTAMPTZ)"

    def expects_refusal(self) -> str:
        """true/false or 1/0 in any case (a Parquet bool too); empty means false; anything else
        ("yes", "n") is NULL, which the check reports rather than guessing."""
        if "expects_refusal" not in self.types:
            return "false"
        word = f"lower(trim({self.text('expects_refusal')}, {WHITE_SPACE}))"
        return (f'CASE WHEN "expects_refusal" IS NULL THEN false '
                f"WHEN {word} IN {TRUE} THEN true WHEN {word} IN {FALSE} THEN false END")

    def number(self, field: str) -> str:
        if field not in self.types:
            return "NULL::DOUBLE"
        if self.types[field] in NUMBER_TYPES:
            return f'CAST("{field}" AS DOUBLE)'
        return f"TRY_CAST(trim({self.text(field)}, {WHITE_SPACE}) AS DOUBLE)"


def blank(value: str) -> str:
    """SQL: ``value`` is NULL, empty or only white space."""
    return f"({value} IS NULL OR regexp_full_match({value}, {BLANK}))"


def may_be_blank(column: str) -> str:
    """SQL true on every row whose text ``column`` is blank, that row-group statistics answer."""
    ranges = " OR ".join(
        f'"{column}" < chr({end})' if start == 0 else
        f'("{column}" >= chr({start}) AND "{column}" < chr({end}))'
        for start, end in BLANK_STARTS)
    return f'("{column}" IS NULL OR {ranges})'


@dataclass(frozen=True)
class Check:
    """A rule on one field: ``bad`` is SQL true on a row that breaks it, ``hint`` a cheaper
    condition true on every such row (or None), ``value`` the SQL of what the message quotes,
    and ``says`` what the message says about it (``{value!r}`` stands for the value)."""

    field: str
    bad: str
    says: str
    hint: str | None = None
    value: str = "NULL"

    def message(self, place: str, value) -> str:
        return f"{place}, field {self.field}: {self.says.replace('{value!r}', repr(value))}"


def row_checks(columns: Columns, models: Sequence[str] | None = None) -> list[Check]:
    """The per-row rules in the order they are reported (the first rule broken wins, and its
    first bad row): required fields, then timestamps, logged answers, booleans, and the
    registry's models when ``models`` is given."""
    checks = [_required(columns, field) for field in REQUIRED]
    if columns.types.get("ts") not in TIME_TYPES:
        checks.append(Check("ts", f"{columns.ts()} IS NULL", "not a timestamp: {value!r}",
                            value=columns.raw("ts")))
    checks += _logged(columns)
    if "expects_refusal" in columns.types and columns.types["expects_refusal"] != "BOOLEAN":
        checks.append(Check("expects_refusal", f"({columns.expects_refusal()}) IS NULL",
                            "not a boolean (true/false or 1/0): {value!r}",
                            value=columns.raw("expects_refusal")))
    if models is not None and "response" in columns.types:
        names = "[" + ", ".join(sql_string(str(name)) for name in models) + "]"
        checks.append(Check(
            "model", f'"response" IS NOT NULL AND NOT list_contains({names}, '
                     f"{columns.optional_text('model')})",
            "{value!r} is not a model of the registry (" + repr(list(models)) + ")",
            value=columns.optional_text("model")))
    return checks


def _required(columns: Columns, field: str) -> Check:
    text = columns.types.get(field) in TEXT_TYPES
    return Check(field, blank(columns.text(field)), "empty",
                 hint=may_be_blank(field) if text else f'"{field}" IS NULL')


def _logged(columns: Columns) -> list[Check]:
    """A logged answer names its model; what production recorded of the call is a number."""
    checks = []
    if "response" in columns.types:
        model = columns.text("model")
        checks.append(Check(
            "model", f'"response" IS NOT NULL AND {blank(model)}',
            "empty, but the row has a logged `response`: name the registry model that "
            "produced it",
            hint=may_be_blank("model") if columns.types.get("model") in TEXT_TYPES else None))
    for field in NUMBERS:
        if field in columns.types:
            number = columns.number(field)
            typed = columns.types[field] in NUMBER_TYPES
            checks.append(Check(
                field, f'"{field}" IS NOT NULL AND ({number} IS NULL OR {number} < 0)',
                "not a number >= 0: {value!r}", hint=f'"{field}" < 0' if typed else None,
                value=columns.raw(field)))
    return checks


def missing_columns(columns: Columns) -> list[str]:
    return [field for field in REQUIRED if field not in columns.types]


def check_source(opened: OpenedSource, columns: Columns,
                 models: Sequence[str] | None = None) -> None:
    """Raises :class:`TrafficFileError` for the first rule the source breaks: a missing
    required column, then the rules of :func:`row_checks` with a duplicate ``request_id``
    right after the required fields, as the rows of a file are read."""
    missing = missing_columns(columns)
    if missing:
        raise TrafficFileError(f"{opened.source.text}: missing required column(s) {missing}")
    checks = row_checks(columns, models)
    first_bad = _first_bad_rows(opened, checks)
    required = len(REQUIRED)
    for index, check in enumerate(checks):
        if index == required:
            _check_unique_ids(opened, columns)
        if first_bad[index] is not None:
            pos = first_bad[index]
            value = opened.conn.execute(f"SELECT {check.value} FROM {VIEW} WHERE _pos = ?",
                                        [pos]).fetchone()[0]
            raise TrafficFileError(check.message(opened.place(pos), value))
    if len(checks) == required:
        _check_unique_ids(opened, columns)


def _first_bad_rows(opened: OpenedSource, checks: list[Check]) -> list[int | None]:
    """The ``_pos`` of each check's first bad row (None: none). A CSV is parsed once for all
    checks; Parquet files and tables are asked a query a check, which their statistics mostly
    answer without reading the column."""
    if not checks:
        return []
    if opened.format == "csv":
        found = ", ".join(f"min(_pos) FILTER (WHERE {check.bad})" for check in checks)
        return list(_run(opened, f"SELECT {found} FROM {VIEW}").fetchone())
    return [_run(opened, f"SELECT min(_pos) FROM {VIEW} WHERE "
                         f"{check.hint + ' AND ' if check.hint else ''}({check.bad})").fetchone()[0]
            for check in checks]


def _check_unique_ids(opened: OpenedSource, columns: Columns) -> None:
    """A duplicate ``request_id`` is reported at its second appearance. The set is grouped by
    a 64-bit hash of the id (a fraction of the memory of the texts); a hash shared by two ids
    is then told apart on those rows only."""
    request_id = columns.text("request_id")
    shared = f"SELECT hash({request_id}) AS h FROM {VIEW} GROUP BY h HAVING count(*) > 1"
    if not _run(opened, f"SELECT count(*) FROM ({shared} LIMIT 1)").fetchone()[0]:
        return
    found = _run(opened, f"""
        WITH suspects AS (SELECT {request_id} AS id, _pos FROM {VIEW}
                          WHERE hash({request_id}) IN ({shared}))
        SELECT id, _pos FROM suspects
        QUALIFY row_number() OVER (PARTITION BY id ORDER BY _pos) = 2
        ORDER BY _pos LIMIT 1""").fetchone()
    if found:
        request_id_value, pos = found
        raise TrafficFileError(f"{opened.place(pos)}, field request_id: "
                               f"duplicate {request_id_value!r}")


def _run(opened: OpenedSource, sql: str):
    try:
        return opened.conn.execute(sql)
    except Exception as error:  # duckdb.Error: a CSV line that does not parse, a bad file
        text = str(error).strip().splitlines()
        raise TrafficFileError(f"{opened.source.text}: cannot be read: "
                               f"{text[0] if text else type(error).__name__}") from error
