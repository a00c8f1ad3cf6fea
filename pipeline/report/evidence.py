"""What a migration report shows, read from a warehouse in one go: the latest decisions and
verdicts, Δ's draws, the labels used and needed, the label queue's latest round, the fits'
diagnostics, label and replay quality, drift status, replay cost and latency, the inputs
the decision was built from, and the latest cascade plan's curves (where one was fitted).
Reads only (a read-only connection is enough); a table an older warehouse lacks is an empty
frame, and its section says so."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pandas as pd

from pipeline.data.artifacts import ArtifactStore
from pipeline.data.fits import fit_parts, load_fit
from pipeline.data.warehouse import read_query
from pipeline.stats.calibration import build_features
from pipeline.stats.sampling import MAX_R_HAT, MIN_ESS

EVERY_DIMENSION = "every dimension"  # a fit of the calibration model: all at once


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@dataclass
class Evidence:
    """The frames a report is drawn from (one per section)."""

    verdicts: pd.DataFrame  # v_migration_verdict
    decisions: pd.DataFrame  # v_latest_decisions, all traffic first in each slice
    deltas: pd.DataFrame  # delta_draws: candidate, dimension, region, delta
    labels_used: pd.DataFrame  # per dimension and model: labels, labelled requests
    label_queue: pd.DataFrame  # the latest round's requests to label
    diagnostics: pd.DataFrame  # fit_diagnostics with a pass column
    quarantine: pd.DataFrame  # per label file: quarantined rows
    drift: pd.DataFrame  # v_drift_status
    replay: pd.DataFrame  # v_replay_stats
    features: pd.DataFrame  # labelled responses: request, model, region, dimension, auto, human
    fit_files: pd.DataFrame  # the latest run's saved fits: fit_id, fit_key, candidate, dimension
    cascade: pd.DataFrame = field(default_factory=pd.DataFrame)  # cascade_curves, latest run
    inputs: dict = field(default_factory=dict)  # fit ids, sample size, time window, ...

    @property
    def incumbent(self) -> str | None:
        return None if self.verdicts.empty else str(self.verdicts["incumbent"].iloc[0])


def _frame(conn, sql: str, params=None) -> pd.DataFrame:
    """The query's rows; an empty frame when the warehouse has no such table or view yet."""
    try:
        return conn.execute(sql, params or []).df()
    except duckdb.CatalogException:
        return pd.DataFrame()


def gather(conn) -> Evidence:
    """Everything the report shows, from the warehouse behind ``conn``."""
    decisions = _frame(conn, "SELECT * FROM v_latest_decisions "
                             "ORDER BY candidate, dimension, region NULLS FIRST")
    diagnostics = _frame(conn, "SELECT * FROM fit_diagnostics ORDER BY candidate, dimension")
    if not diagnostics.empty:
        diagnostics["passed"] = diagnostics["failures"].isna()
    return Evidence(
        verdicts=_frame(conn, "SELECT * FROM v_migration_verdict ORDER BY candidate"),
        decisions=decisions,
        deltas=_frame(conn, "SELECT candidate, dimension, region, delta FROM delta_draws"),
        labels_used=_frame(conn, read_query("report_labels_used")),
        label_queue=_frame(conn, read_query("report_label_queue")),
        diagnostics=diagnostics,
        quarantine=_frame(conn, "SELECT source, count(*) AS rows, min(reason) AS first_reason "
                                "FROM label_quarantine GROUP BY source ORDER BY source"),
        drift=_frame(conn, "SELECT candidate, dimension, region, alarm, alarm_at, drifted, "
                           "n_reference, n_stream, checked_at FROM v_drift_status "
                           "ORDER BY candidate, dimension, region NULLS FIRST"),
        replay=_frame(conn, "SELECT * FROM v_replay_stats ORDER BY model, source"),
        features=_labelled_features(conn),
        fit_files=_frame(conn, read_query("report_fit_files")),
        inputs=_inputs(conn),
        cascade=_frame(conn, read_query("report_cascade_curves")),
    )


def _labelled_features(conn) -> pd.DataFrame:
    """The labelled responses the fits use, with their automated signal (``build_features``:
    the same rows, in the same units, as the fits see)."""
    traffic = _frame(conn, "SELECT * FROM traffic")
    scores = _frame(conn, "SELECT * FROM v_auto_scores_wide")
    labels = _frame(conn, "SELECT * FROM v_fit_labels")
    if traffic.empty or scores.empty or labels.empty:
        return pd.DataFrame(columns=["request_id", "model", "region", "dimension", "auto",
                                     "human"])
    for column in ("rouge_l_f", "bertscore_f1", "refusal", "style"):
        if column not in scores:  # a scorer switched off has no column
            scores[column] = float("nan")
    features = build_features(traffic, scores, labels)
    return features.dropna(subset=["human"]).reset_index(drop=True)


def _inputs(conn) -> dict:
    """What the decision was built from: the fits behind it, the sample and its time window,
    the labels, the models, when it was decided."""
    sample = _frame(conn, "SELECT count(*) AS requests, min(ts) AS first, max(ts) AS last, "
                          "count(DISTINCT region) AS regions FROM traffic")
    fits = _frame(conn, read_query("report_latest_fits"))
    labels = _frame(conn, "SELECT count(*) AS labels, count(DISTINCT annotator) AS annotators, "
                          "min(labeled_at) AS first, max(labeled_at) AS last FROM v_fit_labels")
    decided = _frame(conn, "SELECT max(fitted_at) AS decided_at FROM v_latest_decisions")
    out = {"thresholds": {"max_r_hat": MAX_R_HAT, "min_ess": MIN_ESS}}
    if not sample.empty:
        out["sample"] = sample.iloc[0].to_dict()
    if not labels.empty:
        out["labels"] = labels.iloc[0].to_dict()
    if not decided.empty:
        out["decided_at"] = decided.iloc[0]["decided_at"]
    out["fits"] = fits.to_dict("records")
    return out


def saved_fits(store: ArtifactStore, fit_files: pd.DataFrame) -> tuple[dict, str]:
    """(candidate, dimension) -> the InferenceData of each fit in ``fit_files``, read from
    where the pipeline saves it under ``store`` (``pipeline.data.fits.fit_parts``: never a
    path the warehouse names, so a warehouse from someone else reads nothing outside the
    artifacts root), each file once; and a note on the fits that could not be read."""
    loaded, fits, missing = {}, {}, []
    for row in fit_files.itertuples():
        key = (row.fit_id, row.fit_key)
        if key not in loaded:
            try:
                loaded[key] = load_fit(store.location(store.path(*fit_parts(*key))))
            except (OSError, ValueError) as error:
                loaded[key] = None
                missing.append(f"{row.fit_key}: {_first_line(error)}")
        if loaded[key] is not None:
            dimension = EVERY_DIMENSION if pd.isna(row.dimension) else row.dimension
            fits[(row.candidate, dimension)] = loaded[key]
    note = ""
    if missing:
        note = f"{len(missing)} saved fits could not be read under {store.root}: " \
               + "; ".join(missing[:3])
    elif not fits:
        note = f"No saved fit under {store.root} for the latest run (table fits)."
    return fits, note
