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


def request_status(rows: pd.DataFrame, incumbent: str, candidate: str, human_col: str,
                   item_col: str, model_col: str, group_col: str | None = None) -> pd.DataFrame:
    """One row per request (``item_col``) answered by both models: ``labelled`` when both
    responses carry a label, and the request's ``group`` (its first row's ``group_col``)."""
    flags = (rows.assign(_labelled=rows[human_col].notna())
             .groupby([item_col, model_col])["_labelled"].any().unstack(model_col))
    if not {incumbent, candidate} <= set(flags.columns):
        return pd.DataFrame({"labelled": pd.Series(dtype=bool)})
    flags = flags[flags[[incumbent, candidate]].notna().all(axis=1)]
    status = pd.DataFrame({"labelled": flags[incumbent].eq(True) & flags[candidate].eq(True)})
    if group_col:
        status["group"] = rows.groupby(item_col)[group_col].first().loc[status.index]
    return status
