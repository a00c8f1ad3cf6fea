-- Every fit is kept (#16 item 2): `fits` (one row per fit, candidate and dimension, with the
-- NetCDF's uri, config, data hash and code version) and `fit_parameters` (the paired models'
-- own parameters, summarised), and the fit run (`fit_id`) on the rows drawn or decided from
-- it. Rows from before this version have NULL fit_id. See sql/tables/ for every column.
ALTER TABLE delta_draws ADD COLUMN fit_id VARCHAR;
ALTER TABLE fit_diagnostics ADD COLUMN fit_id VARCHAR;
ALTER TABLE decisions ADD COLUMN fit_id VARCHAR;
ALTER TABLE calibration_summary ADD COLUMN fit_id VARCHAR;
ALTER TABLE calibration_draws ADD COLUMN fit_id VARCHAR;
CREATE TABLE IF NOT EXISTS fits (
    fit_id            VARCHAR NOT NULL,
    fit_key           VARCHAR NOT NULL,
    candidate         VARCHAR NOT NULL,
    incumbent         VARCHAR NOT NULL,
    dimension         VARCHAR NOT NULL,
    method            VARCHAR NOT NULL,
    statistical_model VARCHAR NOT NULL,
    code_version      VARCHAR NOT NULL,
    uri               VARCHAR NOT NULL,
    config            VARCHAR NOT NULL,
    data_hash         VARCHAR NOT NULL,
    fitted_at         TIMESTAMPTZ NOT NULL,
    max_r_hat         DOUBLE,
    min_ess_bulk      DOUBLE,
    min_ess_tail      DOUBLE,
    divergences       INTEGER,
    failures          VARCHAR
);
CREATE TABLE IF NOT EXISTS fit_parameters (
    fit_id    VARCHAR NOT NULL,
    fit_key   VARCHAR NOT NULL,
    candidate VARCHAR NOT NULL,
    dimension VARCHAR NOT NULL,
    parameter VARCHAR NOT NULL,
    region    VARCHAR,
    model     VARCHAR,
    metric    VARCHAR,
    cut_point INTEGER,
    mean      DOUBLE,
    sd        DOUBLE,
    hdi_low   DOUBLE,
    hdi_high  DOUBLE,
    r_hat     DOUBLE,
    ess_bulk  DOUBLE,
    ess_tail  DOUBLE
);
