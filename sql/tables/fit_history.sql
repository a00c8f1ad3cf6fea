-- fit_history: every fit behind a Delta, kept: one row per (fit, candidate, dimension, region)
-- (region NULL: all traffic; no primary key, since a key cannot hold NULL) with the
-- posterior summary of Delta and the sampler's diagnostics of the fit. Written by
-- population_posterior, appended on every run (delta_draws and fit_diagnostics hold only the
-- latest); v_calibration_history reads it.
CREATE TABLE IF NOT EXISTS fit_history (
    fit_id       VARCHAR NOT NULL,     -- the Dagster run that fitted it
    fitted_at    TIMESTAMPTZ NOT NULL, -- when the fit ran (decisions.fitted_at of its decision run)
    method       VARCHAR NOT NULL,     -- population_posterior's method: paired | calibration
    candidate    VARCHAR NOT NULL, -- responses.model of the candidate
    dimension    VARCHAR NOT NULL, -- correctness | refusal | style
    region       VARCHAR,              -- traffic.region; NULL: all traffic
    delta_mean   DOUBLE NOT NULL,      -- posterior mean of Delta (candidate - incumbent)
    delta_sd     DOUBLE NOT NULL,      -- posterior sd
    delta_low    DOUBLE NOT NULL,      -- 2.5 % quantile
    delta_high   DOUBLE NOT NULL,      -- 97.5 % quantile
    max_r_hat    DOUBLE,               -- the fit's diagnostics, as fit_diagnostics
    min_ess_bulk DOUBLE, -- smallest bulk effective sample size
    min_ess_tail DOUBLE, -- smallest tail effective sample size
    divergences  INTEGER, -- divergent transitions after tuning
    failures     VARCHAR               -- NULL when the fit passed its diagnostics
);
