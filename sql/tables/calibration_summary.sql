-- calibration_summary: posterior summary of every calibration parameter from the latest fit.
-- Replaced on each population_posterior run with method calibration; a run with the default
-- method (paired) leaves the last one in place.
CREATE TABLE IF NOT EXISTS calibration_summary (
    dimension  VARCHAR NOT NULL, -- correctness | refusal | style
    parameter  VARCHAR NOT NULL, -- intercept, slope, model_offset, offset_sd, region_offset, sigma
    level      VARCHAR NOT NULL, -- region, model, or region/model the parameter belongs to
                                 -- ('' = global): for people to read only, never a key
    mean       DOUBLE,
    sd         DOUBLE,
    hdi_low    DOUBLE,           -- 94% highest-density interval
    hdi_high   DOUBLE,
    r_hat      DOUBLE,           -- convergence: should be below 1.01
    ess_bulk   DOUBLE,           -- effective sample size
    n_labels   INTEGER,          -- labelled (request, model) pairs used for this dimension
    fitted_at  TIMESTAMPTZ NOT NULL,
    region     VARCHAR,          -- the cell's region; NULL: the parameter has none (and in
                                 -- rows from before schema version 7)
    model      VARCHAR,          -- the cell's model (a candidate); NULL: the parameter has none
    fit_id     VARCHAR           -- the run that fitted it (fits.fit_id); NULL in rows from
                                 -- before schema version 9
);
