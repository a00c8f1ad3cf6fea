-- fit_diagnostics: one row per (candidate, dimension): how the sampler did on the fit behind
-- that candidate's Delta draws in delta_draws (candidates fitted together in one joint model
-- share one row's values). Written by population_posterior, replaced on each run; read by
-- migration_decision, which writes `fit_failed` instead of a verdict when `failures` is set.
CREATE TABLE IF NOT EXISTS fit_diagnostics (
    candidate    VARCHAR NOT NULL,
    dimension    VARCHAR NOT NULL,
    max_r_hat    DOUBLE,            -- worst r_hat over every parameter that enters Delta
    min_ess_bulk DOUBLE,            -- smallest bulk effective sample size
    min_ess_tail DOUBLE,            -- smallest tail effective sample size
    divergences  INTEGER NOT NULL,  -- divergent transitions after tuning
    failures     VARCHAR,           -- why the fit fails (r_hat > 1.01, ESS < 400, divergences),
                                    -- '; '-joined; NULL when it passed
    fit_id       VARCHAR,           -- the run that fitted it (fits.fit_id); NULL in rows from
                                    -- before schema version 9
    PRIMARY KEY (candidate, dimension)
);
