"""The input rows of every fit, as the warehouse holds them now (shared by the drift check,
the posterior and the label queue, so all three see the same labels)."""

from pipeline.stats.calibration import build_features


def load_features(conn):
    """The answers of record, their scores, and the labels that judged those very texts (after
    a drift alarm, only the candidate's labels since the change: v_fit_labels)."""
    return build_features(
        conn.execute("SELECT * FROM traffic").df(),
        conn.execute("SELECT * FROM v_auto_scores_wide").df(),
        conn.execute("SELECT * FROM v_fit_labels").df(),
    )
