"""Boundary checks shared by the functions that take a frame of scored (item, model) rows."""

from __future__ import annotations

import pandas as pd


def check_comparison_frame(where: str, frame, needed, model_col: str, incumbent,
                           candidate) -> None:
    """``frame`` is a DataFrame with the ``needed`` columns and rows for both models;
    errors start with ``where`` (the public function's name)."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{where}: frame must be a pandas DataFrame")
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"{where}: missing columns: {', '.join(map(str, missing))}")
    present = sorted(map(str, pd.unique(frame[model_col].dropna())))
    for name in (incumbent, candidate):
        if str(name) not in present:
            raise ValueError(
                f"{where}: unknown model {name!r}; models present: {', '.join(present)}")
    if str(incumbent) == str(candidate):
        raise ValueError(f"{where}: incumbent and candidate must differ")
