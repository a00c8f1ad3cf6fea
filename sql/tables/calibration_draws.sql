-- calibration_draws: posterior draws of the calibration parameters from the latest fit, long
-- format, for population_posterior and for posterior plots in BI. Replaced on each fit.
CREATE TABLE IF NOT EXISTS calibration_draws (
    dimension VARCHAR NOT NULL,
    parameter VARCHAR NOT NULL,
    level     VARCHAR NOT NULL, -- region, model, or region/model ('' = global): for people to
                                -- read only, never a key (names may hold '/')
    draw      INTEGER NOT NULL, -- chains concatenated
    value     DOUBLE NOT NULL,
    region    VARCHAR,          -- the cell's region; NULL: the parameter has none (and in rows
                                -- from before schema version 7)
    model     VARCHAR,          -- the cell's model (a candidate); NULL: the parameter has none
    fit_id    VARCHAR           -- the run that fitted it (fits.fit_id); NULL in rows from
                                -- before schema version 9
);
