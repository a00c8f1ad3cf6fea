"""Markdown rendered from data (Dagster metadata, reports): every cell escaped, so that a name
holding ``|``, a newline, a backtick or ``<b>`` shows as itself and never becomes syntax."""

from __future__ import annotations

import math
import re

import pandas as pd

# Characters with a meaning in CommonMark / GitHub tables, backslash first so it is not doubled.
_SPECIAL = re.compile(r"([\\|`*_<>\[\]#~!])")
_NEWLINES = re.compile(r"\r\n|\r|\n")

ALL_TRAFFIC = "(all traffic)"  # what a NULL region shows as; a region of that name is escaped


def escape_cell(value) -> str:
    """``value`` as the text of one markdown table cell: markdown's special characters
    backslash-escaped, newlines as ``<br>`` (a cell is one line), surrounding space kept
    visible as ``&#32;`` so that ``" "`` does not read as an empty cell. None/NaN: empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = _SPECIAL.sub(r"\\\1", str(value))
    text = _NEWLINES.sub("<br>", text)
    stripped = text.strip(" ")
    if not stripped:
        return "&#32;" * len(text)
    if stripped != text:
        lead = len(text) - len(text.lstrip(" "))
        trail = len(text) - len(text.rstrip(" "))
        text = "&#32;" * lead + stripped + "&#32;" * trail
    return text


def markdown_table(frame: pd.DataFrame, digits: int | None = 4,
                   null_region: str | None = ALL_TRAFFIC) -> str:
    """A GitHub markdown table of ``frame``, headers and cells escaped; floats rounded to
    ``digits``. A NULL in a ``region`` column shows as ``null_region`` (all traffic), in
    italics so that it cannot be mistaken for a region named the same."""
    if frame.empty:
        return "(no rows)"
    header = "| " + " | ".join(escape_cell(c) for c in frame.columns) + " |"
    rule = "|" + "|".join(" --- " for _ in frame.columns) + "|"
    lines = [header, rule]
    for row in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, row):
            if column == "region" and null_region is not None and pd.isna(value):
                cells.append(f"*{escape_cell(null_region)}*")
            elif isinstance(value, float) and digits is not None and not math.isnan(value):
                cells.append(escape_cell(round(value, digits)))
            else:
                cells.append(escape_cell(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
