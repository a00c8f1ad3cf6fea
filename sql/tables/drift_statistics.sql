-- drift_statistics: the drift monitor's statistic after every stream label, per (check run,
-- candidate, dimension, region): the history BI plots against its threshold. Written by
-- calibration_drift, appended on every run.
CREATE TABLE IF NOT EXISTS drift_statistics (
    candidate   VARCHAR NOT NULL,     -- as drift_status
    dimension   VARCHAR NOT NULL, -- correctness | refusal | style
    region      VARCHAR,              -- traffic.region; NULL: all traffic
    labeled_at  TIMESTAMPTZ NOT NULL, -- when the stream label arrived
    request_id  VARCHAR NOT NULL,     -- the label's request
    model       VARCHAR NOT NULL,     -- the label's model
    statistic   DOUBLE NOT NULL,      -- largest e-value so far times its share of alpha
    threshold   DOUBLE NOT NULL,      -- 1 / alpha: the alarm fires when statistic reaches it
    alarm       BOOLEAN NOT NULL,     -- statistic has reached threshold at or before this label
    checked_at  TIMESTAMPTZ NOT NULL  -- the run (drift_status.checked_at)
);
