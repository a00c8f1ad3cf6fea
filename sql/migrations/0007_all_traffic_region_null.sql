-- The all-traffic rows are marked by region NULL, no longer by the region name 'ALL' (a region
-- may be called anything, 'ALL' included; #22 item 4). Existing 'ALL' rows become the
-- all-traffic rows. A primary key cannot hold NULL, so the tables whose key had region are
-- rebuilt without it (one row per the same columns still, see sql/tables/); the others only
-- drop region's NOT NULL.
ALTER TABLE decisions ALTER COLUMN region DROP NOT NULL;
UPDATE decisions SET region = NULL WHERE region = 'ALL';
ALTER TABLE delta_draws ALTER COLUMN region DROP NOT NULL;
UPDATE delta_draws SET region = NULL WHERE region = 'ALL';
ALTER TABLE drift_statistics ALTER COLUMN region DROP NOT NULL;
UPDATE drift_statistics SET region = NULL WHERE region = 'ALL';

CREATE TABLE fit_history_0007 (
    fit_id       VARCHAR NOT NULL,
    fitted_at    TIMESTAMPTZ NOT NULL,
    method       VARCHAR NOT NULL,
    candidate    VARCHAR NOT NULL,
    dimension    VARCHAR NOT NULL,
    region       VARCHAR,
    delta_mean   DOUBLE NOT NULL,
    delta_sd     DOUBLE NOT NULL,
    delta_low    DOUBLE NOT NULL,
    delta_high   DOUBLE NOT NULL,
    max_r_hat    DOUBLE,
    min_ess_bulk DOUBLE,
    min_ess_tail DOUBLE,
    divergences  INTEGER,
    failures     VARCHAR
);
INSERT INTO fit_history_0007
SELECT * REPLACE (nullif(region, 'ALL') AS region) FROM fit_history;
DROP TABLE fit_history;
ALTER TABLE fit_history_0007 RENAME TO fit_history;

CREATE TABLE drift_status_0007 (
    candidate     VARCHAR NOT NULL,
    incumbent     VARCHAR NOT NULL,
    dimension     VARCHAR NOT NULL,
    region        VARCHAR,
    alarm         BOOLEAN NOT NULL,
    alarm_at      TIMESTAMPTZ,
    drifted       VARCHAR,
    alpha         DOUBLE NOT NULL,
    n_reference   INTEGER NOT NULL,
    n_stream      INTEGER NOT NULL,
    reference_end TIMESTAMPTZ,
    method        VARCHAR NOT NULL,
    checked_at    TIMESTAMPTZ NOT NULL
);
INSERT INTO drift_status_0007
SELECT * REPLACE (nullif(region, 'ALL') AS region) FROM drift_status;
DROP TABLE drift_status;
ALTER TABLE drift_status_0007 RENAME TO drift_status;

CREATE TABLE replay_fidelity_0007 (
    model          VARCHAR NOT NULL,
    region         VARCHAR,
    dimension      VARCHAR NOT NULL,
    requests       INTEGER NOT NULL,
    text_rouge_l   DOUBLE NOT NULL,
    text_bertscore DOUBLE,
    logged_mean    DOUBLE NOT NULL,
    replayed_mean  DOUBLE NOT NULL,
    difference     DOUBLE NOT NULL,
    measured_at    TIMESTAMPTZ NOT NULL
);
INSERT INTO replay_fidelity_0007
SELECT * REPLACE (nullif(region, 'ALL') AS region) FROM replay_fidelity;
DROP TABLE replay_fidelity;
ALTER TABLE replay_fidelity_0007 RENAME TO replay_fidelity;

CREATE TABLE label_queue_0007 (
    candidate      VARCHAR NOT NULL,
    dimension      VARCHAR NOT NULL,
    region         VARCHAR,
    request_id     VARCHAR NOT NULL,
    labelled       BOOLEAN NOT NULL,
    uncertainty    DOUBLE NOT NULL,
    prediction     DOUBLE NOT NULL,
    inclusion_prob DOUBLE NOT NULL,
    weight         DOUBLE NOT NULL,
    selected       BOOLEAN NOT NULL,
    to_label       BOOLEAN NOT NULL,
    queued_at      TIMESTAMPTZ NOT NULL
);
INSERT INTO label_queue_0007
SELECT * REPLACE (nullif(region, 'ALL') AS region) FROM label_queue;
DROP TABLE label_queue;
ALTER TABLE label_queue_0007 RENAME TO label_queue;

-- calibration_draws and calibration_summary: a cell's region and model in their own columns
-- (level stays, for people to read only: 'a/b' is no key when names may hold '/'). Rows of a
-- fit from before this version have NULL in both; the next calibration fit replaces them.
ALTER TABLE calibration_draws ADD COLUMN region VARCHAR;
ALTER TABLE calibration_draws ADD COLUMN model VARCHAR;
ALTER TABLE calibration_summary ADD COLUMN region VARCHAR;
ALTER TABLE calibration_summary ADD COLUMN model VARCHAR;
