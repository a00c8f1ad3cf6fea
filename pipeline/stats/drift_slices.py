"""The drift monitor over every slice the pipeline decides on: each candidate x dimension, over
all traffic and region by region, with one family-wise level for the lot.

``alpha`` is split evenly over the (candidate, dimension) slices, and each slice's share half
to the monitor over all traffic and half to the per-region monitors (which split theirs over
the regions, :func:`pipeline.stats.drift.monitor_drift`). By the union bound, with no drift
anywhere, P(any slice ever alarms) <= alpha: a drift-free demo blocks its verdict by chance at
most that often.
"""

from __future__ import annotations

import pandas as pd

from pipeline.stats.drift import MEANING, monitor_drift

ALL_REGIONS = None  # the monitor over all traffic: region NULL, never a region's name
STATUS_COLUMNS = ["candidate", "incumbent", "dimension", "region", "alarm", "alarm_at",
                  "drifted", "alpha", "n_reference", "n_stream", "reference_end", "method"]
STATISTIC_COLUMNS = ["candidate", "dimension", "region", "labeled_at", "request_id", "model",
                     "statistic", "threshold", "alarm"]


def _metric_columns(rows: pd.DataFrame) -> tuple[str, ...]:
    labelled = rows[rows["human"].notna()]
    second = "auto_2" in rows and labelled["auto_2"].notna().all() and len(labelled)
    return ("auto", "auto_2") if second else ("auto",)


def _status_rows(result, candidate, incumbent, dimension, by_region: bool) -> list[dict]:
    rows = []
    for group in result.groups.itertuples(index=False):
        rows.append({
            "candidate": candidate, "incumbent": incumbent, "dimension": dimension,
            "region": group.group if by_region else ALL_REGIONS, "alarm": bool(group.alarm),
            "alarm_at": group.alarm_at if group.alarm else None,
            "drifted": group.drifted or None, "alpha": float(group.alpha),
            "n_reference": int(group.n_reference), "n_stream": int(group.n_stream),
            "reference_end": result.reference_end, "method": result.method})
    return rows


def _statistic_rows(result, candidate, dimension, by_region: bool) -> pd.DataFrame:
    stats = result.statistic
    return pd.DataFrame({
        "candidate": candidate, "dimension": dimension,
        "region": stats["group"].astype(str) if by_region else ALL_REGIONS,
        "labeled_at": stats["time"], "request_id": stats["item"], "model": stats["model"],
        "statistic": stats["statistic"], "threshold": stats["threshold"],
        "alarm": stats["alarm"].astype(bool)})


def _since_restart(frame: pd.DataFrame, restart) -> pd.DataFrame:
    """After a slice's alarm the monitor starts again from the labels given since the change,
    both models' (the candidate's earlier ones are already out of v_fit_labels)."""
    if restart is None or pd.isna(restart):
        return frame
    before = frame["labeled_at"] <= restart
    return frame.assign(human=frame["human"].mask(before),
                        labeled_at=frame["labeled_at"].mask(before))


def drift_by_slice(features: pd.DataFrame, label_times: pd.DataFrame, incumbent: str,
                   alpha: float = 0.05, reference_end=None, seed: int = 0,
                   restarts: dict | None = None):
    """(status, statistics, skipped) for every candidate x dimension of ``features``.

    ``features``: as ``pipeline.stats.calibration.build_features`` (request_id, model, region,
    dimension, auto, auto_2, human). ``label_times``: request_id, model, dimension, labeled_at
    (the first current label of each labelled response). ``restarts``: (candidate, dimension)
    -> the time of the slice's latest alarm, from which it is monitored afresh. ``status`` has
    one row per slice and region (and region None: all traffic) in :data:`STATUS_COLUMNS`;
    ``statistics`` the monitor's path; ``skipped``: (candidate, dimension) -> why it could not
    be monitored (e.g. no label after the reference)."""
    rows = features.merge(label_times, on=["request_id", "model", "dimension"], how="left")
    slices = [(c, d) for d, c in rows[["dimension", "model"]].drop_duplicates()
              .itertuples(index=False) if c != incumbent]
    status, statistics, skipped = [], [], {}
    share = alpha / max(1, len(slices)) / 2
    for candidate, dimension in sorted(slices):
        frame = _since_restart(rows[(rows["dimension"] == dimension)
                                    & rows["model"].isin([incumbent, candidate])],
                               (restarts or {}).get((candidate, dimension)))
        for by_region in (False, True):
            try:
                result = monitor_drift(
                    frame, incumbent, candidate, auto_cols=_metric_columns(frame),
                    item_col="request_id", reference_end=reference_end, alpha=share,
                    group_col="region" if by_region else None, seed=seed)
            except ValueError as error:
                skipped[(candidate, dimension)] = str(error)
                break
            status += _status_rows(result, candidate, incumbent, dimension, by_region)
            statistics.append(_statistic_rows(result, candidate, dimension, by_region))
    return (pd.DataFrame(status, columns=STATUS_COLUMNS),
            pd.concat(statistics, ignore_index=True) if statistics
            else pd.DataFrame(columns=STATISTIC_COLUMNS), skipped)


def describe_alarm(row) -> str:
    """One sentence for a drifted slice: which, since when, what moved."""
    moved = "; ".join(MEANING.get(part, part) for part in str(row.drifted or "").split(",")
                      if part)
    where = "all traffic" if pd.isna(row.region) else f"region {row.region!r}"
    return (f"{row.candidate!r} on {row.dimension}, {where}: the calibration drifted at the "
            f"label of {row.alarm_at} ({moved})")
