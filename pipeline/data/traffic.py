"""Reading production traffic and drawing the sample that gets replayed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

REQUIRED = ("request_id", "ts", "region", "prompt")
OPTIONAL = {"language": None, "expects_refusal": False, "system": None, "reference": None}
COLUMNS = [*REQUIRED, *OPTIONAL]


class TrafficFileError(ValueError):
    """The traffic file cannot be used; the message names the file, row and field."""


def read_traffic(path: str | Path) -> pd.DataFrame:
    """Read and validate a Parquet or CSV export of production requests."""
    path = Path(path)
    if not path.is_file():
        raise TrafficFileError(f"{path}: traffic file not found")
    if path.suffix.lower() == ".parquet":
        frame = pd.read_parquet(path)
    elif path.suffix.lower() == ".csv":
        frame = pd.read_csv(path)
    else:
        raise TrafficFileError(f"{path}: unsupported traffic file type (use .parquet or .csv)")
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise TrafficFileError(f"{path}: missing required column(s) {missing}")
    for column, default in OPTIONAL.items():
        if column not in frame.columns:
            frame[column] = default
    _check_rows(frame, path)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="ISO8601")
    frame["expects_refusal"] = frame["expects_refusal"].fillna(False).astype(bool)
    return frame[COLUMNS]


def _check_rows(frame: pd.DataFrame, path: Path) -> None:
    for field in REQUIRED:
        empty = frame[field].isna() | (frame[field].astype(str).str.strip() == "")
        if empty.any():
            row = int(np.flatnonzero(empty)[0]) + 1
            raise TrafficFileError(f"{path}, row {row}, field {field}: empty")
    duplicated = frame["request_id"].duplicated()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0]) + 1
        raise TrafficFileError(
            f"{path}, row {row}, field request_id: duplicate {frame['request_id'].iloc[row - 1]!r}"
        )
    stamps = pd.to_datetime(frame["ts"], utc=True, errors="coerce", format="ISO8601")
    if stamps.isna().any():
        row = int(np.flatnonzero(stamps.isna())[0]) + 1
        raise TrafficFileError(f"{path}, row {row}, field ts: not a timestamp: "
                               f"{frame['ts'].iloc[row - 1]!r}")


def sample_traffic(traffic: pd.DataFrame, size: int | None, seed: int = 0) -> pd.DataFrame:
    """A region-stratified random sample of ``size`` requests (all of them when ``size`` is
    None or not smaller). Each region keeps its share of production, so traffic-weighted
    results need no reweighting; every region keeps at least one request."""
    if size is None or size >= len(traffic):
        return traffic.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    shares = traffic["region"].value_counts(normalize=True)
    quota = np.maximum(1, np.floor(shares * size)).astype(int)
    parts = [
        group.iloc[rng.choice(len(group), size=min(len(group), quota[region]), replace=False)]
        for region, group in traffic.groupby("region")
    ]
    return pd.concat(parts).sort_values("ts").reset_index(drop=True)
