"""Reading and validating human labels exported by an annotation tool.

Validation happens here, once, at the boundary: every row either becomes a clean label or a
quarantine record naming the file, the row and the field, with the reason. Nothing is dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.data.dimensions import DIMENSIONS

REQUIRED_COLUMNS = ("request_id", "model", "dimension", "annotator", "score", "labeled_at")


class LabelFileError(ValueError):
    """The file as a whole cannot be read as labels (missing file or columns)."""


@dataclass
class ValidatedLabels:
    labels: pd.DataFrame  # the human_labels table's columns
    quarantine: pd.DataFrame  # the label_quarantine table's columns


def read_label_file(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet export as strings, so validation sees what the file says."""
    path = Path(path)
    if not path.is_file():
        raise LabelFileError(f"{path}: label file not found")
    if path.suffix.lower() == ".parquet":
        frame = pd.read_parquet(path).astype("string")
    elif path.suffix.lower() in (".csv", ".tsv"):
        frame = pd.read_csv(path, dtype="string", keep_default_na=False,
                            sep="\t" if path.suffix.lower() == ".tsv" else ",")
    else:
        raise LabelFileError(f"{path}: unsupported label file type (use .csv, .tsv or .parquet)")
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise LabelFileError(f"{path}: missing required column(s) {missing}")
    return frame


def _problem(row: dict, request_ids: set[str], models: set[str]) -> tuple[str, str] | None:
    """The first (field, reason) wrong with a row, or None when it is a valid label."""
    for field in REQUIRED_COLUMNS:
        if not str(row.get(field) or "").strip():
            return field, "empty"
    if row["request_id"] not in request_ids:
        return "request_id", f"unknown request_id {row['request_id']!r} (not in traffic)"
    if row["model"] not in models:
        return "model", f"unknown model {row['model']!r} (no replayed responses)"
    dimension = DIMENSIONS.get(row["dimension"])
    if dimension is None:
        return "dimension", (f"unknown dimension {row['dimension']!r} "
                             f"(expected one of {sorted(DIMENSIONS)})")
    try:
        score = float(row["score"])
    except ValueError:
        return "score", f"not a number: {row['score']!r}"
    if not dimension.accepts(score):
        scale = "0 or 1" if dimension.binary else f"{dimension.low:g} to {dimension.high:g}"
        return "score", f"{score:g} is outside the {dimension.name} scale ({scale})"
    if pd.isna(pd.to_datetime(row["labeled_at"], errors="coerce", utc=True, format="ISO8601")):
        return "labeled_at", f"not an ISO-8601 timestamp: {row['labeled_at']!r}"
    return None


def validate_labels(
    raw: pd.DataFrame, source: str, request_ids: set[str], models: set[str]
) -> ValidatedLabels:
    """Split raw label rows into valid labels and quarantined rows.

    ``request_ids`` and ``models`` are what the labels may refer to (the sampled traffic and
    the replayed models). Row numbers are 1-based data rows, as a spreadsheet shows them less
    the header. Duplicate (request, model, dimension, annotator) rows keep the latest label.
    """
    good, bad = [], []
    now = pd.Timestamp.now(tz="UTC")
    for number, row in enumerate(raw.to_dict("records"), start=1):
        problem = _problem(row, request_ids, models)
        if problem is None:
            good.append({**{c: row[c].strip() for c in REQUIRED_COLUMNS}, "source": source})
        else:
            field, reason = problem
            bad.append({"source": source, "row_number": number, "field": field,
                        "reason": f"{source}, row {number}, field {field}: {reason}",
                        "raw": json.dumps(row, default=str), "quarantined_at": now})
    labels = pd.DataFrame(good, columns=[*REQUIRED_COLUMNS, "source"])
    labels["score"] = labels["score"].astype(float)
    labels["labeled_at"] = pd.to_datetime(labels["labeled_at"], utc=True, format="ISO8601")
    labels = labels.sort_values("labeled_at").drop_duplicates(
        ["request_id", "model", "dimension", "annotator"], keep="last"
    )
    quarantine = pd.DataFrame(
        bad, columns=["source", "row_number", "field", "reason", "raw", "quarantined_at"]
    )
    return ValidatedLabels(labels.reset_index(drop=True), quarantine)
