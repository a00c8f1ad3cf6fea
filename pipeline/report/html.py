"""The migration report as one self-contained HTML page (styles and images inline), rendered
from Jinja2 templates that ship inside this package (``templates/``), autoescape on: a region
named ``<script>`` is shown as text, never run."""

from __future__ import annotations

import datetime as dt
import math
import re

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined

TEMPLATE = "migration_report.html.j2"
SECTIONS = [("verdict", "Verdict"), ("deltas", "Δ per region"), ("labels", "Labels"),
            ("label-next", "Label next"), ("calibration", "Calibration"),
            ("diagnostics", "Diagnostics and checks"), ("drift", "Drift"),
            ("replay", "Replay"), ("cascade", "Cascade"), ("inputs", "Inputs")]
OPTIONAL_SECTIONS = {"cascade": "cascades"}  # shown when the context's entry is not empty


def _when(value) -> str:
    """A timestamp to the second in UTC; anything else as its text."""
    if isinstance(value, pd.Timestamp | dt.datetime):
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_convert("UTC") if stamp.tzinfo else stamp
        return stamp.strftime("%Y-%m-%d %H:%M:%S") + (" UTC" if stamp.tzinfo else "")
    return str(value)


def _css_class(decision) -> str:
    """The CSS class of a decision badge: a known decision's name, else none (a class
    attribute never carries text from data)."""
    known = {"migrate", "hold", "need_more_labels", "fit_failed"}
    return decision if decision in known else "unknown"


def environment() -> Environment:
    env = Environment(loader=PackageLoader("pipeline.report", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = _when
    env.filters["css_class"] = _css_class
    return env


def plain(value):
    """A cell as a template reads it: numpy scalars as Python numbers, NaN / NA as None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def records(frame: pd.DataFrame) -> list[dict]:
    """The rows of ``frame`` as dicts of plain values."""
    if frame is None or frame.empty:
        return []
    return [{column: plain(value) for column, value in zip(frame.columns, row)}
            for row in frame.itertuples(index=False, name=None)]


def render(context: dict) -> str:
    """The report page for ``context`` (pipeline.report.build.report_context)."""
    sections = [(key, title) for key, title in SECTIONS
                if key not in OPTIONAL_SECTIONS or context.get(OPTIONAL_SECTIONS[key])]
    html = environment().get_template(TEMPLATE).render(r={"sections": sections, **context})
    return re.sub(r"\n\s*\n+", "\n", html)
