"""pipeline.data.markdown: a cell shows its value as text, whatever it holds."""

import math

import pandas as pd
import pytest

from pipeline.data.markdown import ALL_TRAFFIC, escape_cell, markdown_table


@pytest.mark.parametrize("value, shown", [
    ("plain-model", "plain-model"),
    ("a|b", r"a\|b"),
    ("back\\slash", r"back\\slash"),
    ("two\nlines", "two<br>lines"),
    ("crlf\r\nline", "crlf<br>line"),
    ("`code`", r"\`code\`"),
    ("*bold* _it_", r"\*bold\* \_it\_"),
    ("<b>x</b>", r"\<b\>x\</b\>"),
    ("[link](http://x)", r"\[link\](http://x)"),
    (" ", "&#32;"),
    ("  pad ", "&#32;&#32;pad&#32;"),
    (None, ""),
    (math.nan, ""),
    (0.25, "0.25"),
])
def test_a_cell_is_escaped(value, shown):
    assert escape_cell(value) == shown


def cells(line: str) -> list[str]:
    """Split a table row on the pipes markdown reads as separators (not escaped ones)."""
    parts, current, escaped = [], "", False
    for char in line.strip()[1:-1]:
        if char == "|" and not escaped:
            parts.append(current.strip())
            current = ""
        else:
            current += char
        escaped = char == "\\" and not escaped
    return [*parts, current.strip()]


def test_a_table_keeps_its_columns_whatever_the_names_hold():
    frame = pd.DataFrame({"candidate": ["a|b|c", "x\ny", "ALL"], "region": [None, "ALL", " "],
                          "delta_mean": [0.123456, -1.0, math.nan]})
    lines = markdown_table(frame).splitlines()
    assert len(lines) == 2 + len(frame)  # header, rule, one line per row: no newline leaks
    assert all(len(cells(line)) == 3 for line in lines)
    assert cells(lines[2]) == [r"a\|b\|c", f"*{ALL_TRAFFIC}*", "0.1235"]
    # a region named ALL is shown as itself, not as the all-traffic row
    assert cells(lines[4])[:2] == ["ALL", "&#32;"]
    assert cells(lines[3])[1] == "ALL" and cells(lines[3])[0] == "x<br>y"


def test_an_empty_table_says_so():
    assert markdown_table(pd.DataFrame(columns=["a"])) == "(no rows)"
