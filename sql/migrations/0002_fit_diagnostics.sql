-- fit_diagnostics: the sampler's diagnostics per (candidate, dimension), so that a decision
-- is never drawn from a fit that failed them (see sql/tables/fit_diagnostics.sql).
CREATE TABLE IF NOT EXISTS fit_diagnostics (
    candidate    VARCHAR NOT NULL,
    dimension    VARCHAR NOT NULL,
    max_r_hat    DOUBLE,            -- worst r_hat over every parameter that enters Delta
    min_ess_bulk DOUBLE,            -- smallest bulk effective sample size
    min_ess_tail DOUBLE,            -- smallest tail effective sample size
    divergences  INTEGER NOT NULL,  -- divergent transitions after tuning
    failures     VARCHAR,           -- why the fit fails (r_hat > 1.01, ESS < 400, divergences),
                                    -- '; '-joined; NULL when it passed
    PRIMARY KEY (candidate, dimension)
);
