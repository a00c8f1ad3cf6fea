-- History for BI: the calibration drift monitor (see sql/tables/drift_status.sql and
-- drift_statistics.sql).
CREATE TABLE IF NOT EXISTS drift_status (
    candidate     VARCHAR NOT NULL,
    incumbent     VARCHAR NOT NULL,
    dimension     VARCHAR NOT NULL,
    region        VARCHAR NOT NULL,
    alarm         BOOLEAN NOT NULL,
    alarm_at      TIMESTAMPTZ,
    drifted       VARCHAR,
    alpha         DOUBLE NOT NULL,
    n_reference   INTEGER NOT NULL,
    n_stream      INTEGER NOT NULL,
    reference_end TIMESTAMPTZ,
    method        VARCHAR NOT NULL,
    checked_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (candidate, dimension, region, checked_at)
);
CREATE TABLE IF NOT EXISTS drift_statistics (
    candidate   VARCHAR NOT NULL,
    dimension   VARCHAR NOT NULL,
    region      VARCHAR NOT NULL,
    labeled_at  TIMESTAMPTZ NOT NULL,
    request_id  VARCHAR NOT NULL,
    model       VARCHAR NOT NULL,
    statistic   DOUBLE NOT NULL,
    threshold   DOUBLE NOT NULL,
    alarm       BOOLEAN NOT NULL,
    checked_at  TIMESTAMPTZ NOT NULL
);
-- Every fit behind a Delta, kept (see sql/tables/fit_history.sql).
CREATE TABLE IF NOT EXISTS fit_history (
    fit_id       VARCHAR NOT NULL,
    fitted_at    TIMESTAMPTZ NOT NULL,
    method       VARCHAR NOT NULL,
    candidate    VARCHAR NOT NULL,
    dimension    VARCHAR NOT NULL,
    region       VARCHAR NOT NULL,
    delta_mean   DOUBLE NOT NULL,
    delta_sd     DOUBLE NOT NULL,
    delta_low    DOUBLE NOT NULL,
    delta_high   DOUBLE NOT NULL,
    max_r_hat    DOUBLE,
    min_ess_bulk DOUBLE,
    min_ess_tail DOUBLE,
    divergences  INTEGER,
    failures     VARCHAR,
    PRIMARY KEY (fit_id, candidate, dimension, region)
);
