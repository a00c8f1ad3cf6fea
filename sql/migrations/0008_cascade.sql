-- Confidence from replay (responses.confidence, the mean token log-probability where the
-- provider returns them) and the cascade alternative's error-cost curves (see
-- sql/tables/responses.sql and cascade_curves.sql). Rows replayed before this version have
-- NULL confidence.
ALTER TABLE responses ADD COLUMN confidence DOUBLE;
CREATE TABLE IF NOT EXISTS cascade_curves (
    run_id            VARCHAR NOT NULL,
    fitted_at         TIMESTAMPTZ NOT NULL,
    cascade           VARCHAR NOT NULL,
    models            VARCHAR[] NOT NULL,
    point             INTEGER NOT NULL,
    cost_weight       DOUBLE NOT NULL,
    thresholds        DOUBLE[] NOT NULL,
    expected_error    DOUBLE NOT NULL,
    expected_cost     DOUBLE NOT NULL,
    measured_error    DOUBLE,
    measured_cost     DOUBLE,
    n_items           INTEGER NOT NULL,
    best_single_model VARCHAR,
    best_single_error DOUBLE,
    best_single_cost  DOUBLE,
    PRIMARY KEY (run_id, cascade, point)
);
