-- drift_status: one row per (check run, candidate, dimension, region): has the calibration of
-- the automated scores against human judgment drifted since the reference labels? Written by
-- calibration_drift, appended on every run (history kept; v_drift_status has the latest).
-- Region NULL is the monitor over all traffic; each region has its own monitor too. One row per
-- (candidate, dimension, region, checked_at), NULL region included (no primary key: a key
-- cannot hold NULL).
CREATE TABLE IF NOT EXISTS drift_status (
    candidate     VARCHAR NOT NULL,     -- responses.model of the candidate
    incumbent     VARCHAR NOT NULL,     -- responses.model of the incumbent
    dimension     VARCHAR NOT NULL,     -- correctness | refusal | style
    region        VARCHAR,              -- traffic.region; NULL: all traffic
    alarm         BOOLEAN NOT NULL,     -- the monitor alarmed: the calibration drifted
    alarm_at      TIMESTAMPTZ,          -- labeled_at of the label at which it alarmed
    drifted       VARCHAR,              -- what drifted, first to alarm first (comma-separated:
                                        -- paired_shift, candidate_shift, incumbent_shift,
                                        -- slope, noise; see pipeline.stats.drift.MEANING)
    alpha         DOUBLE NOT NULL,      -- this monitor's share of the check's alpha
    n_reference   INTEGER NOT NULL,     -- reference labels (first label per response)
    n_stream      INTEGER NOT NULL,     -- labels after the reference
    reference_end TIMESTAMPTZ,          -- labels up to this time are the reference
    method        VARCHAR NOT NULL,     -- the monitor (pipeline.stats.drift.METHOD)
    checked_at    TIMESTAMPTZ NOT NULL  -- the run
);
