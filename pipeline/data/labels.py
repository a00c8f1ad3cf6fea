"""Reading and validating human labels exported by an annotation tool.

Validation happens here, once, at the boundary: every row either becomes a clean label or a
quarantine record naming the file, the row and the field, with the reason. No row is dropped;
a quarantined row keeps the project's label columns only (other columns, an annotation tool's
comments or e-mail addresses say, are dropped and named in the reason), and what it keeps
passes the caller's redactor (the ``human_labels`` asset gives pipeline.replay.redaction's;
this package imports nothing of the project). A file that cannot be read at all is a
:class:`LabelFileError` naming the file, and the line or column, before anything of a batch
of files is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.data.dimensions import DIMENSIONS

REQUIRED_COLUMNS = ("request_id", "model", "dimension", "annotator", "score", "labeled_at")
# Optional: the identity of the text judged (responses.response_hash), as the label queue's CSV
# carries it. A label without one is tied to the text of record when it is first read.
HASH_COLUMN = "response_hash"
LABEL_COLUMNS = [*REQUIRED_COLUMNS, "source", HASH_COLUMN]  # the human_labels table's
FILE_COLUMNS = (*REQUIRED_COLUMNS, HASH_COLUMN)  # what a label file may carry that is kept

Answers = dict[tuple[str, str], str]
"""(request_id, model) -> response_hash of the answer of record (v_answers)."""
Bindings = dict[tuple[str, str, str, str, pd.Timestamp], str]
"""(request_id, model, dimension, annotator, labeled_at) -> response_hash a label was tied to."""


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
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv", ".tsv"):
        raise LabelFileError(f"{path}: unsupported label file type (use .csv, .tsv or .parquet)")
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path).astype("string")
        else:
            frame = pd.read_csv(path, dtype="string", keep_default_na=False,
                                sep="\t" if suffix == ".tsv" else ",")
    except UnicodeDecodeError as error:
        raise LabelFileError(f"{path}, byte {error.start}: not UTF-8 text") from None
    except Exception as error:  # noqa: BLE001 - any reader failure: the file is unreadable
        detail = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
        raise LabelFileError(f"{path}: cannot be read as {suffix[1:].upper()}: "
                             f"{detail or type(error).__name__}") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise LabelFileError(f"{path}: missing required column(s) {missing}")
    return frame


def _text(value) -> str:
    """An optional field's text: '' when it is absent (None, NaN, or a Parquet null, pd.NA,
    which has no truth value), else the value as text."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return str(value)


def _problem(row: dict, request_ids: set[str], models: set[str],
             answers: Answers | None) -> tuple[str, str] | None:
    """The first (field, reason) wrong with a row, or None when it is a valid label."""
    for field in REQUIRED_COLUMNS:
        if not _text(row.get(field)).strip():
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
    return None if answers is None else _text_problem(row, answers)


def _text_problem(row: dict, answers: Answers) -> tuple[str, str] | None:
    """A label must judge the answer of record: there must be one, and when the row names the
    text it judged, that must still be it."""
    current = answers.get((row["request_id"], row["model"]))
    if current is None:
        return "model", (f"{row['model']!r} has no answer to {row['request_id']!r} (neither "
                         "replayed nor logged)")
    judged = _text(row.get(HASH_COLUMN)).strip()
    if judged and judged != current:
        return HASH_COLUMN, (f"the label judged a text ({judged[:12]}...) that is no longer the "
                             f"answer of record ({current[:12]}...): the response changed "
                             "after it was labelled; label the current text")
    return None


def validate_labels(
    raw: pd.DataFrame, source: str, request_ids: set[str], models: set[str],
    answers: Answers | None = None, bound: Bindings | None = None,
    redact: Callable[[str], str] | None = None,
) -> ValidatedLabels:
    """Split raw label rows into valid labels and quarantined rows.

    ``request_ids`` and ``models`` are what the labels may refer to (the sampled traffic and
    the registry's models). Row numbers are 1-based data rows, as a spreadsheet shows them less
    the header. Duplicate (request, model, dimension, annotator) rows keep the latest label.

    With ``answers`` (the answers of record) every label is tied to the text it judged
    (``response_hash``): the row's own ``response_hash`` when the file has one, which must
    still be the answer of record; else the text ``bound`` says the same label was tied to
    when it was read before (so a refreshed replay does not capture old labels); else the
    current answer. A label of a request the model has no answer to is quarantined.

    A quarantined row keeps the label columns of the file (:data:`FILE_COLUMNS`) and its
    reason, which names any other column (not kept); ``redact`` is applied to every text the
    record keeps, reason included (it quotes the bad value).
    """
    good, bad = [], []
    now = pd.Timestamp.now(tz="UTC")
    bound = bound or {}
    extra = [str(column) for column in raw.columns if column not in FILE_COLUMNS]
    for number, row in enumerate(raw.to_dict("records"), start=1):
        problem = _problem(row, request_ids, models, answers)
        if problem is None:
            # names (request, model, dimension, annotator) as written, as they were checked:
            # names are data; the score and time are values, read past surrounding space
            label = {**{c: row[c] for c in REQUIRED_COLUMNS}, "source": source,
                     "score": row["score"].strip(), "labeled_at": row["labeled_at"].strip()}
            label[HASH_COLUMN] = None if answers is None else _judged_text(label, row, answers,
                                                                            bound)
            good.append(label)
        else:
            field, reason = problem
            bad.append(_quarantined(row, source, number, field, reason, extra, now,
                                    redact or _unchanged))
    labels = pd.DataFrame(good, columns=LABEL_COLUMNS)
    labels["score"] = labels["score"].astype(float)
    labels["labeled_at"] = pd.to_datetime(labels["labeled_at"], utc=True, format="ISO8601")
    labels = labels.sort_values("labeled_at").drop_duplicates(
        ["request_id", "model", "dimension", "annotator"], keep="last"
    )
    quarantine = pd.DataFrame(
        bad, columns=["source", "row_number", "field", "reason", "raw", "quarantined_at"]
    )
    return ValidatedLabels(labels.reset_index(drop=True), quarantine)


def _unchanged(text: str) -> str:
    return text


def _quarantined(row: dict, source: str, number: int, field: str, reason: str,
                 extra: list[str], now: pd.Timestamp, redact: Callable[[str], str]) -> dict:
    """The quarantine record of a bad row: the project's label columns as read, redacted (an
    annotator's e-mail, a card number typed into a score), and the reason, which names the
    columns dropped."""
    kept = {column: None if pd.isna(row[column]) else redact(str(row[column]))
            for column in FILE_COLUMNS if column in row}
    if extra:
        reason += f" (columns not kept: {', '.join(extra)})"
    return {"source": source, "row_number": number, "field": field,
            "reason": redact(f"{source}, row {number}, field {field}: {reason}"),
            "raw": json.dumps(kept, ensure_ascii=False), "quarantined_at": now}


def _judged_text(label: dict, row: dict, answers: Answers, bound: Bindings) -> str:
    named = _text(row.get(HASH_COLUMN)).strip()
    if named:
        return named
    key = (label["request_id"], label["model"], label["dimension"], label["annotator"],
           pd.to_datetime(label["labeled_at"], utc=True, format="ISO8601"))
    return bound.get(key) or answers[(label["request_id"], label["model"])]
