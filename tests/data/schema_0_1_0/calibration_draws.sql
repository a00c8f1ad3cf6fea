-- calibration_draws: posterior draws of the calibration parameters from the latest fit, long
-- format, for population_posterior and for posterior plots in BI. Replaced on each fit.
CREATE TABLE IF NOT EXISTS calibration_draws (
    dimension VARCHAR NOT NULL,
    parameter VARCHAR NOT NULL,
    level     VARCHAR NOT NULL, -- region, model, or region/model ('' = global)
    draw      INTEGER NOT NULL, -- chains concatenated
    value     DOUBLE NOT NULL
);
