"""Reading production traffic and drawing the sample that gets replayed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

REQUIRED = ("request_id", "ts", "region", "prompt")
OPTIONAL = {"language": None, "expects_refusal": False, "system": None, "reference": None}
# Production's own answer, when the export carries it: `response` and the registry `model` that
# produced it, with what production recorded of the call (pipeline.data.answers).
LOGGED = {"response": None, "model": None, "latency_ms": None, "tokens_in": None,
          "tokens_out": None, "cost_usd": None}
TRAFFIC_COLUMNS = [*REQUIRED, *OPTIONAL]  # the `traffic` table's, less sampled_at
COLUMNS = [*TRAFFIC_COLUMNS, *LOGGED]


# Free-text optional fields: an empty cell, a blank string and a missing value all mean absent.
OPTIONAL_TEXT = ("language", "system", "reference", "model")


def absent_if_empty(values: pd.Series) -> pd.Series:
    """``values`` with every empty optional field as None: NaN or NA (an empty CSV cell, a
    Parquet null) and text that is empty or only white space. A ``system`` prompt on some
    rows only is then absent on the others, as if the column had no value there."""
    present = values.map(lambda value: isinstance(value, str) and bool(value.strip()))
    return values.astype(object).where(present, None)


class TrafficFileError(ValueError):
    """The traffic file cannot be used; the message names the file, row and field."""


def read_traffic(path: str | Path) -> pd.DataFrame:
    """Read and validate a Parquet or CSV export of production requests.

    Returns :data:`COLUMNS`: the request (:data:`TRAFFIC_COLUMNS`) and, where the export has
    them, production's logged answer (``response``, ``model``, ``latency_ms``, ``tokens_in``,
    ``tokens_out``, ``cost_usd``; missing columns are empty)."""
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
    for column, default in {**OPTIONAL, **LOGGED}.items():
        if column not in frame.columns:
            frame[column] = default
    for column in OPTIONAL_TEXT:
        frame[column] = absent_if_empty(frame[column])
    _check_rows(frame, path)
    _check_logged(frame, path)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="ISO8601")
    frame["expects_refusal"] = _booleans(frame["expects_refusal"], path, "expects_refusal")
    return frame[COLUMNS]


TRUE, FALSE = {"true", "1", "1.0"}, {"false", "0", "0.0", ""}


def _booleans(values: pd.Series, path: Path, field: str) -> pd.Series:
    """true/false or 1/0 in any case (a Parquet bool too); empty means false. Anything else
    ("yes", "n") is an error rather than a guess."""
    def parse(value) -> bool | None:
        if not isinstance(value, str) and pd.isna(value):  # None, NaN, NA: an empty cell
            return False
        text = str(value).strip().lower()
        return True if text in TRUE else False if text in FALSE else None

    parsed = values.map(parse)
    bad = parsed.isna()
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise TrafficFileError(f"{path}, row {row}, field {field}: not a boolean "
                               f"(true/false or 1/0): {values.iloc[row - 1]!r}")
    return parsed.astype(bool)


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


def _check_logged(frame: pd.DataFrame, path: Path) -> None:
    """A logged answer names its model; what production recorded of the call is a number."""
    answered = frame["response"].notna()
    nameless = answered & (frame["model"].isna() | (frame["model"].astype(str).str.strip() == ""))
    if nameless.any():
        row = int(np.flatnonzero(nameless)[0]) + 1
        raise TrafficFileError(f"{path}, row {row}, field model: empty, but the row has a logged "
                               "`response`: name the registry model that produced it")
    for field in ("latency_ms", "tokens_in", "tokens_out", "cost_usd"):
        values = pd.to_numeric(frame[field], errors="coerce")
        bad = frame[field].notna() & (values.isna() | (values < 0))
        if bad.any():
            row = int(np.flatnonzero(bad)[0]) + 1
            raise TrafficFileError(f"{path}, row {row}, field {field}: not a number >= 0: "
                                   f"{frame[field].iloc[row - 1]!r}")
        frame[field] = values


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
