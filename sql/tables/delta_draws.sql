-- delta_draws: posterior draws of Delta = mean human score of the candidate minus the incumbent
-- over the sampled traffic, per dimension and region (region NULL = the traffic-weighted total over all traffic).
-- Written by population_posterior; replaced on each run.
CREATE TABLE IF NOT EXISTS delta_draws (
    candidate VARCHAR NOT NULL,
    incumbent VARCHAR NOT NULL,
    dimension VARCHAR NOT NULL,
    region    VARCHAR, -- traffic.region; NULL: all traffic
    draw      INTEGER NOT NULL,
    delta     DOUBLE NOT NULL,
    fit_id    VARCHAR  -- the run that drew it (fits.fit_id); NULL in rows from before schema
                       -- version 9
);
