-- fits: every fit behind a Delta, kept: one row per (fit run, fit, candidate, dimension), with
-- where its InferenceData is saved (NetCDF under the artifacts root) and what it was fitted
-- from. Candidates fitted together in one joint model share a fit (same fit_key and uri); the
-- calibration method fits every dimension and candidate at once. Written by
-- population_posterior, appended on every run (failed fits included: keeping them is how
-- they are inspected). The NetCDF file carries the same provenance in its attributes.
CREATE TABLE IF NOT EXISTS fits (
    fit_id            VARCHAR NOT NULL,     -- the Dagster run of population_posterior that
                                            -- fitted it (fit_history.fit_id)
    fit_key           VARCHAR NOT NULL,     -- the fit within the run: 16 hex digits of a
                                            -- sha256 of (method, dimension, candidates,
                                            -- weighted); the file's name, so no name from
                                            -- the data is ever part of a path
    candidate         VARCHAR NOT NULL,     -- a candidate whose Delta this fit gives
    incumbent         VARCHAR NOT NULL,
    dimension         VARCHAR NOT NULL,     -- correctness | refusal | style
    method            VARCHAR NOT NULL,     -- population_posterior's method: paired | calibration
    statistical_model VARCHAR NOT NULL,     -- joint_gaussian | paired_gaussian |
                                            -- paired_bernoulli | paired_ordinal | calibration
    code_version      VARCHAR NOT NULL,     -- the statistical model's version (e.g.
                                            -- joint-gaussian-1): bumped when the model changes
    uri               VARCHAR NOT NULL,     -- the NetCDF: <artifacts root>/fits/<fit_id>/<fit_key>.nc
                                            -- (a local path or a URL); open it with
                                            -- arviz.from_netcdf or pipeline.data.fits.load_fit
    config            VARCHAR NOT NULL,     -- JSON: draws (per chain), tune, chains, seed,
                                            -- weighted (design weights from label-queue rounds)
    data_hash         VARCHAR NOT NULL,     -- sha256 of the rows the fit saw (request, model,
                                            -- region, scores, labels, weights)
    fitted_at         TIMESTAMPTZ NOT NULL,
    max_r_hat         DOUBLE,               -- the fit's diagnostics for this candidate (as
                                            -- fit_diagnostics): worst r_hat
    min_ess_bulk      DOUBLE,               -- smallest bulk effective sample size
    min_ess_tail      DOUBLE,               -- smallest tail effective sample size
    divergences       INTEGER,              -- divergent transitions after tuning
    failures          VARCHAR               -- what failed; NULL when the fit passed
);
